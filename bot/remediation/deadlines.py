"""How long a run may stay in each open state, and ending one that stayed too long.

No state a crash or a lost job leaves behind may block *Run* for good: entering `requested`,
`approved`, `announced` or `running` sets a deadline, and a run still in that state then is ended
(expired, cancelled or unknown), which frees its action for a new request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.remediation.dispatch import finish_run
from bot.remediation.requests import get_run
from bot.remediation.runs import transition
from storage.models import RemediationRun

START_WITHIN = timedelta(minutes=5)  # approved or announced, and still not sent
REPORT_MARGIN = timedelta(minutes=2)  # beyond the action's own timeout
WATCHED = ("requested", "approved", "announced", "running")
_ENDS = {
    "requested": ("expired", "no approval before the request expired"),
    "approved": ("expired", "approved but not started in time; nothing was sent"),
    "announced": ("cancelled", "announced but not started in time; nothing was sent"),
    "running": ("unknown", "no result in time; check the target by hand before running it again"),
}


def deadline(state: str, run: RemediationRun, timeout: int, *, at: datetime) -> datetime:
    """When a run that entered `state` at `at` is overdue (`timeout`: its action's, in seconds)."""
    if state == "requested":
        return run.expires_at
    if state == "running":
        return at + timedelta(seconds=timeout) + REPORT_MARGIN
    return at + START_WITHIN


def end_overdue(session: Session, run_id: int, state: str, at: datetime) -> RemediationRun | None:
    """End the run if it is still in `state`; None when it moved on (nothing to do)."""
    run = get_run(session, run_id, lock=True)
    if run.state != state:
        return None
    to, detail = _ENDS[state]
    if state == "running":
        return finish_run(session, run_id, to, detail, "", at)
    transition(session, run, to, at=at, detail=detail, finished_at=at, outcome=detail)
    return run


def open_runs(session: Session) -> list[RemediationRun]:
    """Runs in a state that has a deadline."""
    return list(session.exec(select(RemediationRun).where(col(RemediationRun.state).in_(WATCHED))).all())
