"""Running one approved remediation action: a webhook call or a command, and nothing else.

This package is the only place remediation I/O happens. Parameters never become part of a URL or
a shell line: a webhook gets them as the JSON object "parameters" in its body, a command as
separate argv elements. Every webhook target passes the rules in `targets`: the host must be
allowlisted (with its port, if the entry names one); https is required unless the host is in
`allow_http_hosts`; a host given by NAME must not resolve to a loopback, private, link-local,
unspecified, multicast, reserved or metadata address, while a literal IP address that is itself
allowlisted is allowed (the operator named it). The metadata address is refused even then.
"""

from __future__ import annotations

import logging

from bot.adapters.executors.command import execute_command, preview_command
from bot.adapters.executors.model import (
    CommandAction,
    Execution,
    ExecutorPolicy,
    Params,
    Preview,
    RefusedTarget,
    WebhookAction,
)
from bot.adapters.executors.webhook import client_for, execute_webhook, post_signed, preview_webhook

__all__ = [
    "CommandAction",
    "Execution",
    "ExecutorPolicy",
    "Preview",
    "RefusedTarget",
    "WebhookAction",
    "client_for",
    "execute",
    "post_signed",
    "preview",
]

log = logging.getLogger(__name__)


def preview(
    action: WebhookAction | CommandAction, params: Params, *, run_id: str, policy: ExecutorPolicy
) -> Preview:
    """What `execute` would send, checked the same way (names are not resolved); sends nothing."""
    if isinstance(action, WebhookAction):
        return preview_webhook(action, params, run_id=run_id, policy=policy)
    return preview_command(action, params)


async def execute(
    action: WebhookAction | CommandAction,
    params: Params,
    *,
    run_id: str,
    policy: ExecutorPolicy,
    timeout: float | None = None,
) -> Execution:
    """Run the action once and report what happened; raise `RefusedTarget` before sending if it may not."""
    total = policy.total_timeout if timeout is None else timeout
    if isinstance(action, WebhookAction):
        execution = await execute_webhook(action, params, run_id=run_id, policy=policy, total=total)
    else:
        execution = await execute_command(action, params, policy=policy, total=total)
    log.info("remediation run %s: %s (%s)", run_id, execution.outcome, execution.detail)
    return execution
