"""Resolving the PagerDuty incidents a war room follows, as a durable job, and the room's lines
about them.

Resolving the room records `pagerduty.resolve` in the transaction that resolves it (key: the
change's own key and `:pagerduty`). The job resolves each linked PagerDuty incident still open
(a resolve is idempotent by state: a retry asks PagerDuty first and writes only to one still
open), then records what it did and, in that same transaction, the room's line as an
`alert.line` job (key: this job's key and `:line`), which posts it once. A retry that finds the
line recorded has nothing left to do.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot import clock
from bot.alerts.links import Linked, open_links, record_resolutions
from bot.deps import Deps
from bot.errors import WarroomError
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from storage.session import run_in_session

RESOLVE = "pagerduty.resolve"
LINE = "alert.line"


def record_line(session: Session, key: str, incident_id: int, line: str, *, at: datetime) -> None:
    """Record the room's line about its PagerDuty incidents (mrkdwn), shown once under `key`."""
    queue.record(session, LINE, key, {"incident_id": incident_id, "line": line}, at=at)


def record_resolve(session: Session, incident_id: int, *, key: str) -> None:
    """Record resolving the room's open PagerDuty incidents, with the change that resolved it."""
    queue.record(session, RESOLVE, key, {"incident_id": incident_id}, at=clock.now())


def resolve_key(incident_id: int, resolved_at: datetime | None) -> str:
    """The key of one resolution of a room (it may be reopened and resolved again)."""
    return f"{RESOLVE}:{incident_id}:{(resolved_at or clock.now()).isoformat()}"


def register(deps: Deps) -> None:
    """Run resolve jobs in this process."""
    deps.jobs.register(RESOLVE, lambda job: resolve_linked(deps, job))


async def resolve_linked(deps: Deps, job: Claimed) -> None:
    """Resolve every linked PagerDuty incident still open, once each, and have the room told
    which were resolved and which could not be."""
    gateway = deps.pagerduty
    if gateway is None or not deps.settings.warroom_resolve_pagerduty:
        return
    line_key = f"{job.key}:line"
    if job.retried and await run_in_session(queue.exists, line_key):
        return
    incident_id = int(job.payload["incident_id"])
    resolved: list[Linked] = []
    already: list[Linked] = []
    failed: list[tuple[Linked, str]] = []
    for link in await run_in_session(open_links, incident_id):
        try:
            # after a crash, one found resolved is most likely one this job resolved
            done = await gateway.resolve(link.pd_incident_id, check_first=job.retried)
            (resolved if done or job.retried else already).append(link)
        except WarroomError as exc:
            failed.append((link, exc.user_message))
    faults.step("resolve.sent")
    await run_in_session(_record, incident_id, resolved, already, failed, line_key)
    faults.step("resolve.recorded")
    deps.jobs.wake()


def _record(
    session: Session,
    incident_id: int,
    resolved: list[Linked],
    already: list[Linked],
    failed: list[tuple[Linked, str]],
    line_key: str,
) -> None:
    at = clock.now()
    line = record_resolutions(session, incident_id, resolved, already, failed, at)
    if line:
        record_line(session, line_key, incident_id, f":pager: {line}", at=at)
