"""Whose requests Warroom serves, and what it does once Slack has taken its access away.

Warroom serves one workspace, learnt from `auth.test` at start-up. A correctly signed request
for another team or app (another install of the same app, a copied signing secret) is refused
before anything reads it. After an uninstall or a revoked token nothing can be carried out, so
commands are answered with that instead of being acknowledged and then silently dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.adapters.slack_state import SlackState
from bot.deps import Deps

log = logging.getLogger(__name__)

NOT_READY = "Warroom is starting and does not know its Slack workspace yet; try again shortly."
NO_ACCESS = (
    "Warroom has lost its access to Slack ({reason}), so it cannot do this; nothing was changed. "
    "Ask a Slack admin to reinstall the app."
)

Next = Callable[[], Awaitable[BoltResponse]]


def workspace_gate(state: SlackState) -> Callable[..., Awaitable[BoltResponse]]:
    """Bolt's before-authorize middleware: only our team and app, and nothing once access is lost."""
    refused: set[str] = set()

    async def gate(req: AsyncBoltRequest, resp: BoltResponse, next: Next) -> BoltResponse:
        identity = state.identity
        if identity is None:
            return BoltResponse(status=503, body=NOT_READY)
        context = req.context
        foreign = identity.foreign(context.team_id, context.enterprise_id, req.body.get("api_app_id"))
        if foreign is not None:
            if foreign not in refused:  # once per stranger: a misrouted install must not flood the log
                refused.add(foreign)
                log.warning("refused a signed request for %s (Warroom serves %s)", foreign, identity.team_id)
            return BoltResponse(status=401, body="this app serves another workspace")
        if state.lost_access is not None and not _is_revocation(req.body):
            return _no_access(req.body, state.lost_access)
        return await next()

    return gate


def authorize_from(state: SlackState, token: str) -> Callable[..., Awaitable[AuthorizeResult]]:
    """Bolt's authorize: the identity learnt at start-up, so no request waits on `auth.test`."""

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        identity = state.identity
        assert identity is not None  # the gate answered 503 before authorize could run
        return AuthorizeResult(
            enterprise_id=identity.enterprise_id,
            team_id=identity.team_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=token,
        )

    return authorize


def register(app: AsyncApp, deps: Deps) -> None:
    """Stop all posting when Slack says the app was uninstalled or its bot token revoked."""

    @app.event("app_uninstalled")
    async def on_uninstalled() -> None:
        deps.slack.state.lose_access("app_uninstalled")

    @app.event("tokens_revoked")
    async def on_tokens_revoked(event: dict[str, Any]) -> None:
        bots = (event.get("tokens") or {}).get("bot") or []
        if deps.slack.state.identity and deps.slack.state.identity.user_id in bots:
            deps.slack.state.lose_access("tokens_revoked")


def _is_revocation(body: dict[str, Any]) -> bool:
    return (body.get("event") or {}).get("type") in ("app_uninstalled", "tokens_revoked")


def _no_access(body: dict[str, Any], reason: str) -> BoltResponse:
    """Say so to whoever typed a command or submitted a form; anything else is just acknowledged."""
    text = NO_ACCESS.format(reason=reason)
    if "command" in body:
        answer: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    elif body.get("type") == "view_submission":
        section = {"type": "section", "text": {"type": "plain_text", "text": text}}
        title = {"type": "plain_text", "text": "Warroom"}
        answer = {"response_action": "update", "view": {"type": "modal", "title": title, "blocks": [section]}}
    else:
        return BoltResponse(status=200, body="")
    return BoltResponse(status=200, body=json.dumps(answer), headers={"content-type": "application/json"})
