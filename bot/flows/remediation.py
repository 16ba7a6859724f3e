"""The durable jobs of a remediation run: their kinds, what each needs, and their keys.

A click or command records a job (`REQUEST`, `VOTE`, `KILL_SWITCH`, `PREVIEW`); its handler
re-checks the asker and moves the run, and in the same transaction records what comes next
under `<its own key>:next`: a retry that finds that key knows the move committed. Entering an
open state also records a `DEADLINE` job due when the run is overdue there. The handlers live
in `bot.flows.requests` (asking and voting) and `bot.flows.runs` (sending and deadlines); this
module only records, so that the runbook flow can ask for automatic fixes without them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.jobs import queue
from bot.jobs.queue import Claimed
from bot.playbooks.models import Action
from bot.remediation.deadlines import deadline
from storage.models import RemediationRun

REQUEST = "remediation.request"
VOTE = "remediation.vote"
KILL_SWITCH = "remediation.killswitch"
PREVIEW = "remediation.preview"
OFFER = "remediation.offer"  # post the request with its Approve and Reject buttons
REFRESH = "remediation.refresh"  # show a vote on the request
TELL = "remediation.tell"  # confirm to whoever typed the command
DISPATCH = "remediation.dispatch"  # announce, send, report: holds the run while it goes
DEADLINE = "remediation.deadline"
RECHECK = timedelta(minutes=1)  # a deadline met while the dispatch job still holds the run


def next_key(job: Claimed) -> str:
    """The key of what `job` records along with its change."""
    return f"{job.key}:next"


def message_key(run: RemediationRun, what: str) -> str:
    """The metadata key of one of a run's messages in the room (`request`, `announce`, `report`…)."""
    return f"run:{run.id}:{what}"


def record_request(session: Session, key: str, asked: dict[str, Any], **what: Any) -> bool:
    """Record a request for `what` (playbook, action, params, incident or number, automatic) on
    behalf of `asked` (user, team, channel); False when `key` was recorded before."""
    return queue.record(session, REQUEST, key, asked | what, at=clock.now())


def record_next(session: Session, run: RemediationRun, key: str, action: Action) -> None:
    """After the request that created `run`: dispatch it if approved, else offer it for votes."""
    if run.state == "approved":
        record_dispatch(session, run, key, action)
        return
    queue.record(session, OFFER, key, {"run": run.id}, at=clock.now())
    record_deadline(session, run, "requested", action.timeout, holder=None)


def record_dispatch(session: Session, run: RemediationRun, key: str, action: Action) -> None:
    """Dispatch the approved `run` under `key`, which holds it until it ends."""
    queue.record(session, DISPATCH, key, {"run": run.id}, at=clock.now())
    record_deadline(session, run, "approved", action.timeout, holder=key)


def record_deadline(
    session: Session, run: RemediationRun, state: str, timeout: int, *, holder: str | None
) -> None:
    """Record the end of `run` should it still be in `state` at its deadline; `holder` is the
    key of the job moving it on, which the deadline leaves alone while it lives; `timeout` is
    the action's, in seconds."""
    at = clock.now()
    due = deadline(state, run, timeout, at=at)
    payload = {"run": run.id, "state": state, "holder": holder, "minutes": _minutes(due - at), "check": 0}
    queue.record(session, DEADLINE, f"run:{run.id}:deadline:{state}:0", payload, at=at, run_after=due)


def record_recheck(session: Session, payload: dict[str, Any], at: datetime) -> None:
    """Look at a deadline again a little later (its run was still held by a live job)."""
    check = int(payload["check"]) + 1
    key = f"run:{payload['run']}:deadline:{payload['state']}:{check}"
    queue.record(session, DEADLINE, key, payload | {"check": check}, at=at, run_after=at + RECHECK)


def _minutes(span: timedelta) -> int:
    return max(1, round(span.total_seconds() / 60))
