"""Asking for a run and voting on it, as durable jobs (kinds and keys in `bot.flows.remediation`).

Each handler re-checks the asker (their roles, groups and guest status now, not at the click),
moves the run in one transaction with the job that comes next, and only then speaks: a retry
finds that next job recorded and does nothing again. The request message is posted under its
metadata key and found on a retry instead of posted twice.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows import runs
from bot.flows.effects import context_for, post_once, retry_since
from bot.flows.remediation import (
    KILL_SWITCH,
    OFFER,
    PREVIEW,
    REFRESH,
    REQUEST,
    TELL,
    VOTE,
    message_key,
    next_key,
    record_dispatch,
    record_next,
)
from bot.incidents.changes import Context, find_incident
from bot.incidents.permissions import Actor
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.remediation.dispatch import set_kill_switch
from bot.remediation.params import Value
from bot.remediation.requests import Requested, approvals, get_run, request_run, vote
from bot.remediation.runs import RunRefused, find_action, remember_message
from bot.views.remediation import request_message
from storage.models import RemediationRun
from storage.session import run_in_session

log = logging.getLogger(__name__)


def register(deps: Deps) -> None:
    """Run every remediation job kind in this process."""
    handlers = {
        REQUEST: run_request,
        VOTE: run_vote,
        KILL_SWITCH: run_kill_switch,
        PREVIEW: run_preview,
        OFFER: run_offer,
        REFRESH: run_refresh,
        TELL: run_tell,
    }
    for kind, handler in handlers.items():
        deps.jobs.register(kind, partial(handler, deps))


async def _context(deps: Deps, asked: dict[str, Any]) -> Context:
    if asked.get("automatic"):  # Warroom's own request, for a runbook in auto mode
        bot = str(asked["user"])
        return Context(Actor(bot), clock.now(), deps.settings.warroom_admins, asked["channel"], bot)
    return await context_for(deps, str(asked["user"]), str(asked["team"]), asked["channel"])


async def run_request(deps: Deps, job: Claimed) -> None:
    """Record the request; the next job dispatches it (no approval needed) or offers it for votes."""
    asked = job.payload
    action = find_action(deps.catalog, asked["playbook"], asked["action"])
    automatic = bool(asked.get("automatic"))
    ctx = await _context(deps, asked)
    groups = frozenset() if automatic else await runs.groups_of(deps, ctx.actor.user_id, action.requesters)
    params: dict[str, Value] = dict(asked["params"])

    def request(session: Session) -> Requested | None:
        if queue.exists(session, next_key(job)):
            return None  # an earlier attempt recorded it
        incident_id = (
            asked.get("incident")
            or find_incident(session, number=asked.get("number"), channel_id=str(asked["channel"])).id
        )
        assert incident_id is not None
        requested = request_run(
            session, incident_id, deps.catalog, asked["playbook"], asked["action"], params, ctx,
            groups=groups, dry_run=deps.settings.warroom_dry_run, automatic=automatic,
        )  # fmt: skip
        if requested.created:
            record_next(session, requested.run, next_key(job), action)
        return requested

    try:
        requested = await run_in_session(request)
        if requested is not None and not requested.created:
            run = requested.run
            raise RunRefused(f"<@{run.requested_by}> already asked for this run; it is {run.state}.")
    except RunRefused as exc:
        if not automatic:
            raise
        log.warning("auto remediation %s not run: %s", action.id, exc.user_message)
        return
    faults.step("remediation.requested")
    deps.jobs.wake()


async def run_vote(deps: Deps, job: Claimed) -> None:
    """Count a vote; the vote that completes the approvals records the dispatch with it."""
    asked = job.payload
    run = await run_in_session(get_run, int(asked["run"]))
    action = find_action(deps.catalog, run.playbook_id, run.action_id)
    ctx = await context_for(deps, str(asked["user"]), str(asked["team"]), asked["channel"])
    groups = await runs.groups_of(deps, ctx.actor.user_id, action.approvers)

    def count(session: Session) -> RemediationRun | None:
        if queue.exists(session, next_key(job)):
            return None
        voted, completed = vote(
            session, int(asked["run"]), bool(asked["approve"]), deps.catalog, ctx, groups=groups
        )
        if completed:
            record_dispatch(session, voted, next_key(job), action)
        else:
            queue.record(session, REFRESH, next_key(job), {"run": voted.id}, at=ctx.at)
        return voted

    voted = await run_in_session(count)
    if voted is None:
        return
    faults.step("remediation.voted")
    deps.jobs.wake()
    if voted.state in ("expired", "cancelled"):
        word = "expired" if voted.state == "expired" else "void"
        raise RunRefused(f"This request is {word}; ask again if needed.")


async def run_offer(deps: Deps, job: Claimed) -> None:
    """Post the request with its buttons (once), and remember where it is for the votes."""
    run = await run_in_session(get_run, int(job.payload["run"]))
    action = find_action(deps.catalog, run.playbook_id, run.action_id)
    text, blocks = request_message(run, action, await run_in_session(approvals, run.id))
    room = runs.room(run)
    ts = await post_once(
        deps, room, text, blocks=blocks, key=message_key(run, "request"), since=retry_since(job)
    )
    faults.step("remediation.offered")
    await run_in_session(remember_message, run.id, room, ts)


async def run_refresh(deps: Deps, job: Claimed) -> None:
    """Show the request's votes and state on its message."""
    run = await run_in_session(get_run, int(job.payload["run"]))
    await runs.refresh_request(deps, run, find_action(deps.catalog, run.playbook_id, run.action_id))


async def run_kill_switch(deps: Deps, job: Claimed) -> None:
    """Engage or release a kill switch (admins), and confirm it to whoever typed the command."""
    asked = job.payload
    ctx = await context_for(deps, str(asked["user"]), str(asked["team"]), asked["channel"])
    scope, engaged = str(asked["scope"]), bool(asked["engaged"])
    what = "all remediation" if scope == "*" else f"`{scope}`"
    state, verb = ("on", "stopped") if engaged else ("off", "allowed again")
    said = f"Kill switch {state}: {what} {verb}, effective for the next run."

    def switch(session: Session) -> None:
        if not queue.exists(session, next_key(job)):
            set_kill_switch(session, scope, engaged, ctx, str(asked["reason"]))
            queue.record(session, TELL, next_key(job), {"text": said}, at=ctx.at, tell=job.tell)

    await run_in_session(switch)
    deps.jobs.wake()


async def run_tell(deps: Deps, job: Claimed) -> None:
    """Answer the command that asked, only to its author (ephemeral: at most once)."""
    assert job.tell is not None
    await deps.slack.respond(str(job.tell["response_url"]), str(job.payload["text"]))


async def run_preview(deps: Deps, job: Claimed) -> None:
    """Whisper exactly what a run would send; nothing is sent."""
    asked = job.payload
    action = find_action(deps.catalog, asked["playbook"], asked["action"])
    text = runs.preview_text(deps, action, dict(asked["params"]))
    await deps.slack.whisper(str(asked["channel"]), str(asked["user"]), text)
