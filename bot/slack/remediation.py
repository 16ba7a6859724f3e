"""Remediation flows after the ack: request, vote, then announce, run and report.

The state lives in the database (bot/remediation); this module sends what each step means to
Slack and calls the executor, the only place a remediation leaves Warroom.
"""

from __future__ import annotations

import asyncio
import logging

from bot import clock
from bot.adapters.executors import (
    CommandAction,
    Execution,
    ExecutorPolicy,
    RefusedTarget,
    WebhookAction,
    execute,
    preview,
)
from bot.deps import Deps
from bot.incidents.changes import Context
from bot.incidents.permissions import Actor
from bot.playbooks.matching import Fit
from bot.playbooks.models import Action
from bot.remediation.dispatch import announce_run, finish_run, interrupted_runs, start_run
from bot.remediation.params import Value
from bot.remediation.requests import approvals, get_run, request_run, vote
from bot.remediation.runs import RunRefused, find_action, last_detail, remember_message
from bot.slack.views.remediation import announcement, blocked, report, request_message
from storage.models import Incident, RemediationRun
from storage.session import run_in_session

log = logging.getLogger(__name__)


def _room(run: RemediationRun) -> str:
    assert run.channel_id is not None, "a run belongs to an open war room"
    return run.channel_id


def policy(deps: Deps) -> ExecutorPolicy:
    """Where remediation may reach, from the settings."""
    settings = deps.settings
    return ExecutorPolicy(
        allowed_hosts=frozenset(settings.warroom_remediation_hosts),
        allow_http_hosts=frozenset(settings.warroom_remediation_http_hosts),
    )


def executable(action: Action) -> WebhookAction | CommandAction:
    """The executor's view of a runbook action."""
    if action.kind == "command":
        assert action.argv is not None
        return CommandAction(argv=action.argv)
    assert action.url is not None
    return WebhookAction(method=action.method, url=action.url, body=dict(action.body))


def preview_text(deps: Deps, action: Action, params: dict[str, Value]) -> str:
    """Exactly what a run would send, for a person to read; nothing is sent."""
    try:
        shown = preview(executable(action), params, run_id="preview", policy=policy(deps)).description
    except RefusedTarget as exc:
        return f"{action.label} could not run as written: {exc.user_message}"
    return f"Preview of *{action.label}* (nothing was sent):\n```{shown}```"


async def groups_of(deps: Deps, user_id: str, entries: tuple[str, ...]) -> frozenset[str]:
    """The user groups named in `entries` that `user_id` belongs to."""
    mine = set()
    for group in (entry for entry in entries if entry.startswith("S")):
        if user_id in await deps.slack.group_members(group):
            mine.add(group)
    return frozenset(mine)


async def request(
    deps: Deps,
    incident_id: int,
    playbook_id: str,
    action_id: str,
    params: dict[str, Value],
    ctx: Context,
    *,
    automatic: bool = False,
) -> None:
    """Record the request; run it at once when no approval is needed, else ask for votes."""
    action = find_action(deps.catalog, playbook_id, action_id)
    groups = await groups_of(deps, ctx.actor.user_id, action.requesters)
    requested = await run_in_session(
        request_run,
        incident_id,
        deps.catalog,
        playbook_id,
        action_id,
        params,
        ctx,
        groups=groups,
        dry_run=deps.settings.warroom_dry_run,
        automatic=automatic,
    )
    run = requested.run
    if not requested.created:
        raise RunRefused(f"<@{run.requested_by}> already asked for this run; it is {run.state}.")
    if run.state == "approved":
        await dispatch(deps, run)
        return
    assert run.id is not None
    text, blocks = request_message(run, action, [])
    ts = await deps.slack.post(_room(run), text, blocks)
    await run_in_session(remember_message, run.id, run.channel_id, ts)


async def cast_vote(deps: Deps, run_id: int, approve: bool, ctx: Context) -> None:
    """Count a vote, update the request in place, and dispatch when it completes the approvals."""
    run = await run_in_session(get_run, run_id)
    action = find_action(deps.catalog, run.playbook_id, run.action_id)
    groups = await groups_of(deps, ctx.actor.user_id, action.approvers)
    run, completed = await run_in_session(vote, run_id, approve, deps.catalog, ctx, groups=groups)
    if completed:
        await dispatch(deps, run)  # it updates the request message on the way
        return
    await refresh_request(deps, run, action)
    if run.state in ("expired", "cancelled"):
        raise RunRefused(
            f"This request is {'expired' if run.state == 'expired' else 'void'}; ask again if needed."
        )


async def refresh_request(deps: Deps, run: RemediationRun, action: Action) -> None:
    """Show the request's current state and votes on its message."""
    if run.channel_id and run.message_ts and run.id is not None:
        text, blocks = request_message(run, action, await run_in_session(approvals, run.id))
        await deps.slack.update(run.channel_id, run.message_ts, text, blocks)


async def dispatch(deps: Deps, run: RemediationRun) -> None:
    """Pre-checks, announce, run (or preview on a dry run), report; each step recorded first."""
    assert run.id is not None
    action = find_action(deps.catalog, run.playbook_id, run.action_id)
    run = await run_in_session(announce_run, run.id, deps.catalog, clock.now())
    if run.state == "blocked":
        await deps.slack.post(_room(run), blocked(run, await _last_detail(run)))
        await refresh_request(deps, run, action)
        return
    approved_by = await run_in_session(approvals, run.id)
    # announce before anything is sent; the request message catches up alongside
    await asyncio.gather(
        deps.slack.post(_room(run), announcement(run, approved_by)), refresh_request(deps, run, action)
    )
    run = await run_in_session(start_run, run.id, clock.now())
    if run.state == "blocked":
        await deps.slack.post(_room(run), blocked(run, await _last_detail(run)))
        return
    await _run_and_report(deps, run, action)


async def _run_and_report(deps: Deps, run: RemediationRun, action: Action) -> None:
    assert run.id is not None
    execution = await _execute(deps, run, action)
    run = await run_in_session(
        finish_run, run.id, execution.outcome, execution.detail, execution.excerpt, clock.now()
    )
    await asyncio.gather(
        deps.slack.post(_room(run), report(run, execution.duration_ms)), refresh_request(deps, run, action)
    )


async def _execute(deps: Deps, run: RemediationRun, action: Action) -> Execution:
    params: dict[str, Value] = dict(run.params)
    key = f"warroom-run-{run.id}"
    if run.dry_run:
        try:
            shown = preview(executable(action), params, run_id=key, policy=policy(deps)).description
        except RefusedTarget as exc:  # still a rehearsal that worked: say what a real run would meet
            return Execution(
                "succeeded",
                0,
                "",
                f"dry run: nothing was sent; a real run would be refused: {exc.user_message}",
            )
        return Execution("succeeded", 0, shown, "dry run: nothing was sent")
    try:
        return await execute(
            executable(action), params, run_id=key, policy=policy(deps), timeout=action.timeout
        )
    except RefusedTarget as exc:
        return Execution("failed", 0, "", f"refused before sending: {exc.user_message}")


async def _last_detail(run: RemediationRun) -> str:
    assert run.id is not None
    return await run_in_session(last_detail, run.id)


async def recover_interrupted_runs(deps: Deps) -> None:
    """After a restart: resend a run that was running if it is idempotent (same key), else
    mark it unknown and say so; it is never sent twice blindly."""
    for run in await run_in_session(interrupted_runs, clock.now()):
        assert run.id is not None
        action = find_action(deps.catalog, run.playbook_id, run.action_id)
        if action.idempotent:
            await deps.slack.post(
                _room(run),
                f"Warroom restarted while *{run.label}* ran; it is idempotent, "
                "so it is being sent again with the same Idempotency-Key.",
            )
            await _run_and_report(deps, run, action)
            continue
        run = await run_in_session(
            finish_run,
            run.id,
            "unknown",
            "Warroom restarted while it ran; check the target by hand before running it again",
            "",
            clock.now(),
        )
        await deps.slack.post(_room(run), report(run, 0))


async def run_auto_actions(deps: Deps, incident: Incident, fits: list[Fit]) -> None:
    """Run, without a click, the auto-mode actions of runbooks an alert matched."""
    bot = await deps.slack.bot_user_id()
    assert incident.id is not None
    ctx = Context(Actor(bot), clock.now(), deps.settings.warroom_admins, incident.channel_id, bot)
    for fit in fits:
        if not any(reason.startswith("alert ") for reason in fit.reasons):
            continue
        for action in fit.playbook.meta.actions:
            if action.mode == "auto" and not action.params:
                try:
                    await request(deps, incident.id, fit.playbook.id, action.id, {}, ctx, automatic=True)
                except RunRefused as exc:
                    log.warning("auto remediation %s not run: %s", action.id, exc)
