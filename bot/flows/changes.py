"""`/incident sev|status|ic|role|resolve|reopen|update …` as two durable jobs.

The command job checks the asker and makes the change; in the same transaction it records the
outcome job, so the change and the promise to show it commit together, and a retry of the
command finds the outcome already recorded instead of refusing "already sev 2". The outcome
job posts each message with its key in Slack's message metadata; a retry looks for that key in
the channel before posting again, so the room and the broadcast see each message once. The
card and topic are rewritten from the stored incident, which is safe to repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows.effects import retry_since
from bot.flows.linked import record_resolve
from bot.flows.outcomes import apply_outcome
from bot.incidents.changes import Outcome, for_incident
from bot.incidents.service import get_incident
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from storage.session import run_in_session

COMMAND = "incident.command"
OUTCOME = "incident.outcome"
T = TypeVar("T")


def record_command(
    session: Session, change: str, args: str, number: int | None, command: dict[str, Any]
) -> bool:
    """Record `/incident [INC-n] <change> <args>` as typed (the one write on the request path)."""
    payload = {
        "change": change,
        "args": args,
        "number": number,
        "user": command["user_id"],
        "team": command["team_id"],
        "channel": command["channel_id"],
    }
    tell = {"response_url": command["response_url"]} if command.get("response_url") else None
    key = f"command:{command['trigger_id']}"
    return queue.record(session, COMMAND, key, payload, at=clock.now(), tell=tell)


def record_outcome(session: Session, outcome: Outcome, *, key: str) -> None:
    """Record what `outcome` shows in Slack, in the transaction that made the change."""
    assert outcome.incident.id is not None
    payload = {
        "incident_id": outcome.incident.id,
        "message": outcome.message,
        "broadcast": outcome.broadcast,
        "invite": list(outcome.invite),
        "refresh": outcome.refresh,
        "rematch": outcome.rematch,
        "data": outcome.data,
    }
    queue.record(session, OUTCOME, key, payload, at=clock.now())
    if outcome.data.get("resolved"):
        record_resolve(session, outcome.incident.id, key=f"{key}:pagerduty")


def outcome_key(job: Claimed) -> str:
    """The outcome job's key for the command job `job`."""
    return f"outcome:{job.key}"


def register(deps: Deps) -> None:
    """Run outcome jobs in this process."""
    deps.jobs.register(OUTCOME, lambda job: show_outcome(deps, job))


def change_and_record(session: Session, job: Claimed, change: Callable[[Session], Outcome]) -> bool:
    """Make the change and record its outcome together; False when an earlier attempt did both."""
    key = outcome_key(job)
    if queue.exists(session, key):
        return False
    record_outcome(session, change(session), key=key)
    return True


async def show_outcome(deps: Deps, job: Claimed) -> None:
    """Post the change's line in the room and the broadcast (once each), refresh the card."""
    payload = job.payload
    incident = await run_in_session(get_incident, int(payload["incident_id"]))
    outcome = Outcome(
        incident,
        str(payload["message"]),
        broadcast=bool(payload["broadcast"]),
        invite=tuple(payload["invite"]),
        refresh=bool(payload["refresh"]),
        rematch=bool(payload["rematch"]),
        data=dict(payload["data"]),
    )
    since = retry_since(job)
    await apply_outcome(deps, outcome, key=job.key, reconcile_since=since)
    faults.step("outcome.shown")


def on_incident(session: Session, payload: dict[str, Any], use_case: Callable[..., T], *args: Any) -> T:
    """Run `use_case` on the incident a job names: by id (a card form), else by number or war room."""
    if payload.get("incident_id") is not None:
        return use_case(session, int(payload["incident_id"]), *args)
    return for_incident(session, payload["number"], str(payload["channel"]), use_case, *args)
