"""Each endpoint's way through the timeline: one process at a time sends to it (a lease), events
go in timeline order, the endpoint's cursor moves past an event only once it was delivered (or
given up on after `GIVE_UP_AFTER` of failures), and a failure waits with exponential backoff
before the same event is tried again, so a receiver never sees events out of order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlmodel import Session, col

from bot.webhooks.events import TYPES
from storage.models import Incident, TimelineEvent, WebhookEndpoint, WebhookSend, table

GIVE_UP_AFTER = timedelta(hours=24)
BACKOFF_CAP = timedelta(hours=1)
QUICK = (0.0, 0.02, 0.1)  # seconds before the 2nd, 3rd and 4th try: a blip costs the queue little
ENDPOINTS, SENDS, EVENTS = table(WebhookEndpoint), table(WebhookSend), table(TimelineEvent)


def newest_event(session: Session) -> int:
    """The id of the newest timeline event (0 for none)."""
    return int(session.execute(select(func.coalesce(func.max(EVENTS.c.id), 0))).scalar_one())


def sync_endpoints(session: Session, names: list[str], at: datetime) -> None:
    """Give every configured endpoint its row; a new one starts after the newest event (it gets
    what happens from now on; `warroom webhooks replay` sends it older events)."""
    known = set(session.execute(select(ENDPOINTS.c.name)).scalars())
    start = newest_event(session)
    rows = [
        {"name": n, "cursor": start, "attempts": 0, "next_attempt_at": at} for n in names if n not in known
    ]
    if rows:
        session.execute(insert(ENDPOINTS), rows)


def claim(
    session: Session, name: str, owner: str, *, at: datetime, lease: timedelta
) -> tuple[int, int] | None:
    """Lease the endpoint to `owner` if it is due and nobody holds it: its cursor and the failed
    attempts of the event after it; None if not."""
    free = or_(
        ENDPOINTS.c.lease_until.is_(None), ENDPOINTS.c.lease_until < at, ENDPOINTS.c.lease_owner == owner
    )
    statement = (
        update(ENDPOINTS)
        .where(ENDPOINTS.c.name == name, ENDPOINTS.c.next_attempt_at <= at, free)
        .values(lease_owner=owner, lease_until=at + lease)
        .returning(ENDPOINTS.c.cursor, ENDPOINTS.c.attempts)
    )
    row = session.execute(statement).first()
    return None if row is None else (int(row[0]), int(row[1]))


def release(session: Session, name: str, owner: str) -> None:
    """Give the endpoint back."""
    session.execute(
        update(ENDPOINTS)
        .where(ENDPOINTS.c.name == name, ENDPOINTS.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def pending(session: Session, cursor: int, horizon: int, limit: int) -> list[tuple[TimelineEvent, Incident]]:
    """The next events after `cursor` up to `horizon` that have an event type, oldest first."""
    statement = (
        select(TimelineEvent, Incident)
        .join(Incident, col(Incident.id) == col(TimelineEvent.incident_id))
        .where(
            col(TimelineEvent.id) > cursor,
            col(TimelineEvent.id) <= horizon,
            col(TimelineEvent.kind).in_(list(TYPES)),
        )
        .order_by(col(TimelineEvent.id))
        .limit(limit)
    )
    return [(event, incident) for event, incident in session.execute(statement).all()]


@dataclass(frozen=True)
class Attempt:
    """One try to deliver an event, as the sender saw it."""

    event_id: int
    message_id: str
    kind: str
    status: int | None  # None: no answer
    delivered: bool
    detail: str
    duration_ms: int


def record_attempts(
    session: Session,
    name: str,
    owner: str,
    attempts: list[Attempt],
    *,
    past: int,
    at: datetime,
    lease: timedelta,
) -> float | None:
    """Log attempts, in the order they were made, and move the endpoint's cursor to `past` (the
    last event delivered or not subscribed to). A failed last attempt holds the endpoint at its
    event, for a backoff, or is given up after `GIVE_UP_AFTER` of failures (logged `gave_up`;
    the endpoint goes on). None: go on to the next event; else the seconds until the failed one
    is tried again (infinite when this owner lost the lease)."""
    row = session.execute(
        select(ENDPOINTS.c.attempts, ENDPOINTS.c.failing_since).where(
            ENDPOINTS.c.name == name, ENDPOINTS.c.lease_owner == owner
        )
    ).first()
    if row is None:
        return float("inf")
    tries, failing_since = int(row[0]), row[1]
    logs, wait = [], None
    for attempt in attempts:
        tries += 1
        outcome = "delivered"
        if not attempt.delivered:
            failing_since = failing_since or at
            outcome = "gave_up" if at - failing_since >= GIVE_UP_AFTER else "failed"
        logs.append(
            {
                "endpoint": name,
                "event_id": attempt.event_id,
                "message_id": attempt.message_id,
                "type": attempt.kind,
                "attempt": tries,
                "status": attempt.status,
                "outcome": outcome,
                "detail": attempt.detail[:2000],
                "duration_ms": attempt.duration_ms,
                "at": at,
            }
        )
        if outcome == "failed":
            wait = backoff(tries)
        else:
            past, tries, failing_since, wait = max(past, attempt.event_id), 0, None, None
    if logs:
        session.execute(insert(SENDS), logs)
    values = {
        "cursor": past,
        "attempts": tries,
        "failing_since": failing_since,
        "next_attempt_at": at + (wait or timedelta(0)),
        "lease_until": at + lease,
    }
    mine = and_(ENDPOINTS.c.name == name, ENDPOINTS.c.lease_owner == owner, ENDPOINTS.c.cursor <= past)
    session.execute(update(ENDPOINTS).where(mine).values(**values))
    return None if wait is None else wait.total_seconds()


def backoff(attempts: int) -> timedelta:
    """How long the event waits after its `attempts`-th failure: a few quick tries, then
    doubling from a quarter of a second up to an hour."""
    if attempts <= len(QUICK):
        return timedelta(seconds=QUICK[attempts - 1])
    return min(BACKOFF_CAP, timedelta(seconds=0.25 * 2 ** min(attempts - len(QUICK) - 1, 20)))


def replay(session: Session, since: datetime, at: datetime, endpoint: str | None = None) -> int:
    """Send again, in order, every event from `since` on (to one endpoint or all); how many
    endpoints were moved back."""
    first = session.execute(
        select(func.min(EVENTS.c.id)).where(EVENTS.c.at >= since, EVENTS.c.kind.in_(list(TYPES)))
    ).scalar_one()
    if first is None:
        return 0
    back = int(first) - 1  # an endpoint still behind that keeps its place: nothing is skipped
    statement = update(ENDPOINTS).values(
        cursor=case((ENDPOINTS.c.cursor < back, ENDPOINTS.c.cursor), else_=back),
        attempts=0,
        failing_since=None,
        next_attempt_at=at,
    )
    if endpoint is not None:
        statement = statement.where(ENDPOINTS.c.name == endpoint)
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def deliveries(session: Session, endpoint: str | None, limit: int = 50) -> list[WebhookSend]:
    """The newest delivery attempts, newest first."""
    statement = select(WebhookSend).order_by(col(WebhookSend.id).desc()).limit(limit)
    if endpoint is not None:
        statement = statement.where(col(WebhookSend.endpoint) == endpoint)
    return [row for (row,) in session.execute(statement).all()]
