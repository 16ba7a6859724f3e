"""Triage from Slack, after the ack: the notice buttons' work and `/incident triage`.

Each press is a job keyed by its trigger; its change (an acknowledgement, an incident, a rule)
commits with the job that marks the notice (`alert.mark`, keyed after it), so a retry or a
second replica finds the change made and marks the notice once. Marking reads the notice back
and adds its line only if it is not there yet.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.alerts.overrides import Triagers, acknowledge, active_overrides, make_override, revert
from bot.alerts.service import declare_for_alert
from bot.deps import Deps
from bot.flows.effects import context_for, tell
from bot.flows.remediation import next_key
from bot.flows.rooms import record_room
from bot.incidents.permissions import NotAllowed
from bot.jobs import queue
from bot.jobs.queue import Claimed
from bot.views.alerts import ACKNOWLEDGE, DECLARE, marked, override_line, triage_list
from storage.session import run_in_session

ACK, DECLARE_JOB, OVERRIDE, MARK = "alert.ack", "alert.declare", "alert.override", "alert.mark"
LIST, REVERT = "alert.triage_list", "alert.triage_revert"


def register(deps: Deps) -> None:
    """Run the triage jobs in this process."""
    handlers = {
        ACK: run_ack,
        DECLARE_JOB: run_declare,
        OVERRIDE: run_override,
        MARK: run_mark,
        LIST: run_list,
        REVERT: run_revert,
    }
    for kind, handler in handlers.items():
        deps.jobs.register(kind, partial(handler, deps))


async def run_ack(deps: Deps, job: Claimed) -> None:
    """Acknowledge the alert: the time to acknowledge counts in the alert report."""
    asked = await _person(deps, job)
    user, at = str(asked["user"]), clock.now()

    def ack(session: Session) -> bool:
        if queue.exists(session, next_key(job)):
            return True
        _, fresh = acknowledge(session, int(asked["alert"]), by=user, at=at)
        if fresh:
            _mark(session, job, f":eyes: Acknowledged by <@{user}>", drop=(ACKNOWLEDGE,))
        return fresh

    if not await run_in_session(ack):
        await tell(deps, asked, "Someone already acknowledged that alert; nothing changed.")
    deps.jobs.wake()


async def run_declare(deps: Deps, job: Claimed) -> None:
    """Declare an incident for the alert, its war room opened as any declaration's (once, however
    many press the button)."""
    asked = await _person(deps, job)
    user, at = str(asked["user"]), clock.now()

    def declare(session: Session) -> str:
        if queue.exists(session, next_key(job)):
            return ""
        incident, created = declare_for_alert(session, int(asked["alert"]), by=user, at=at)
        if not created:
            where = f" in <#{incident.channel_id}>" if incident.channel_id else ""
            return f"That alert is already {incident.ref}{where}; nothing changed."
        record_room(session, incident)
        line = f":rotating_light: <@{user}> declared {incident.ref}; its war room is opening"
        _mark(session, job, line, drop=(DECLARE,))
        return ""

    if already := await run_in_session(declare):
        await tell(deps, asked, already)
    deps.jobs.wake()


async def run_override(deps: Deps, job: Claimed) -> None:
    """Store a rule made from Slack (admins and the triage group) and say so on the notice."""
    asked = await _person(deps, job)
    await _check_triager(deps, str(asked["user"]))
    at = clock.now()

    def make(session: Session) -> str:
        if queue.exists(session, next_key(job)):
            return ""
        override = make_override(
            session,
            int(asked["alert"]),
            asked["action"],
            scope=asked["scope"],
            days=int(asked["days"]),
            reason=str(asked["reason"]),
            by=str(asked["user"]),
            at=at,
            channel=asked.get("target"),
        )
        line = override_line(override)
        _mark(session, job, f":broom: {line}", drop=())
        return line

    line = await run_in_session(make)
    if line:
        await tell(deps, asked, f"Saved: {line}. `/incident triage revert` followed by its number ends it.")
    deps.jobs.wake()


async def run_mark(deps: Deps, job: Claimed) -> None:
    """Add the line to the notice (read back first: a retry adds nothing)."""
    channel, ts = str(job.payload["channel"]), str(job.payload["ts"])
    message = await deps.slack.message(channel, ts)
    if message is None:
        return
    blocks = message.get("blocks") or []
    updated = marked(blocks, str(job.payload["line"]), drop=tuple(job.payload["drop"]))
    if updated != blocks:
        await deps.slack.update(channel, ts, str(message.get("text") or ""), updated)


async def run_list(deps: Deps, job: Claimed) -> None:
    """`/incident triage`: the active rules made from Slack, only to whoever asked."""
    overrides = await run_in_session(active_overrides, clock.now())
    await tell(deps, job.tell or job.payload, triage_list(overrides))


async def run_revert(deps: Deps, job: Claimed) -> None:
    """`/incident triage revert <n>` (admins and the triage group)."""
    asked = await _person(deps, job)
    await _check_triager(deps, str(asked["user"]))
    ended = await run_in_session(revert, int(asked["override"]), by=str(asked["user"]), at=clock.now())
    await tell(
        deps, job.tell or asked, f"Ended triage rule #{ended.id}: {ended.about}; the YAML rules apply again."
    )


def _mark(session: Session, job: Claimed, line: str, *, drop: tuple[str, ...]) -> None:
    if not job.payload.get("ts"):
        return  # pressed on no message Warroom can find again (an ephemeral copy)
    payload: dict[str, Any] = {"channel": job.payload["channel"], "ts": job.payload["ts"], "line": line}
    queue.record(session, MARK, next_key(job), payload | {"drop": list(drop)}, at=clock.now())


async def _person(deps: Deps, job: Claimed) -> dict[str, Any]:
    """The job's payload, once its asker is known to be a member of this workspace."""
    asked = job.payload
    context = await context_for(deps, str(asked["user"]), str(asked["team"]), asked.get("channel"))
    if context.actor.is_guest or context.actor.is_external:
        raise NotAllowed("Guests and people from other workspaces cannot triage alerts.")
    return asked


async def _check_triager(deps: Deps, user: str) -> None:
    """Refuse anyone but Warroom's admins and the triage group's members (read from Slack now:
    the group changes over time)."""
    admins, group = deps.settings.warroom_admins, deps.settings.warroom_triage_group
    members = await deps.slack.group_members(group) if group and user not in admins else []
    Triagers(tuple(admins), tuple(members)).check(user)
