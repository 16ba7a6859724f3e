"""What the API and the console read: incidents (filtered, newest first, in pages), timelines,
follow-ups and alerts, each only as far as the reader may see private incidents. A page ends
where the next begins (a cursor, never an offset), so pages stay right while incidents are
declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, exists, false, func, or_, true
from sqlmodel import Session, col, select

from bot.incidents.errors import IncidentNotFound
from storage.models import Alert, FollowUp, Incident, RoleAssignment, TimelineEvent

T = TypeVar("T")
OPEN, CLOSED = "open", "closed"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the cursor of the next (None: this is the last)."""

    items: list[T]
    after: int | None


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list."""

    status: str | None = None  # open, closed, or one status
    severity: int | None = None
    service: str | None = None  # of an alert linked to the incident
    text: str | None = None  # in the title, case-insensitive
    drill: bool | None = None


@dataclass(frozen=True)
class Reader:
    """Who reads, as far as private incidents go: `everything` (admins, private API tokens), or
    the public incidents and the private ones `user_id` is a member of: who declared it, held a
    role or acted on its timeline, and whoever is in its war room (`rooms`, as Slack says)."""

    everything: bool = False
    user_id: str | None = None
    rooms: frozenset[str] = frozenset()


EVERYTHING, PUBLIC = Reader(everything=True), Reader()


def readable(reader: Reader) -> ColumnElement[bool]:
    """The incidents `reader` may see, as a condition on `incidents`."""
    if reader.everything:
        return true()
    if reader.user_id is None:
        return col(Incident.private).is_(False)
    user = reader.user_id
    held_role = exists().where(
        col(RoleAssignment.incident_id) == col(Incident.id), col(RoleAssignment.user_id) == user
    )
    acted = exists().where(
        col(TimelineEvent.incident_id) == col(Incident.id), col(TimelineEvent.actor_id) == user
    )
    in_room = col(Incident.channel_id).in_(sorted(reader.rooms)) if reader.rooms else false()
    return or_(col(Incident.private).is_(False), col(Incident.declared_by) == user, in_room, held_role, acted)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_incidents(
    session: Session, where: IncidentFilter, *, reader: Reader, limit: int, before: int | None
) -> Page[Incident]:
    """Incidents `reader` may see, newest first, numbered below `before`."""
    statement = (
        select(Incident).where(readable(reader)).order_by(col(Incident.number).desc()).limit(limit + 1)
    )
    if before is not None:
        statement = statement.where(Incident.number < before)
    if where.status == OPEN:
        statement = statement.where(col(Incident.closed_at).is_(None))
    elif where.status == CLOSED:
        statement = statement.where(col(Incident.closed_at).is_not(None))
    elif where.status is not None:
        statement = statement.where(Incident.status == where.status)
    if where.severity is not None:
        statement = statement.where(Incident.severity == where.severity)
    if where.drill is not None:
        drills = col(Incident.drill_of)
        statement = statement.where(drills.is_not(None) if where.drill else drills.is_(None))
    if where.text:
        statement = statement.where(func.lower(Incident.title).like(_like(where.text), escape="\\"))
    if where.service:
        linked = exists().where(
            col(Alert.incident_id) == col(Incident.id),
            func.lower(Alert.service_name) == where.service.lower(),
        )
        statement = statement.where(linked)
    rows = list(session.exec(statement))
    more = len(rows) > limit
    return Page(rows[:limit], rows[limit - 1].number if more else None)


def incident_by_number(session: Session, number: int, *, reader: Reader) -> Incident:
    """INC-`number`, if `reader` may see it (a private one is as if it did not exist)."""
    incident = session.exec(select(Incident).where(Incident.number == number, readable(reader))).first()
    if incident is None:
        raise IncidentNotFound(f"INC-{number} does not exist.")
    return incident


def timeline_page(
    session: Session, incident_id: int, *, kind: str | None, limit: int, after: int | None
) -> Page[TimelineEvent]:
    """An incident's timeline, oldest first, after the event `after`."""
    statement = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.id))
        .limit(limit + 1)
    )
    if after is not None:
        statement = statement.where(col(TimelineEvent.id) > after)
    if kind:
        statement = statement.where(TimelineEvent.kind == kind)
    rows = list(session.exec(statement))
    more = len(rows) > limit
    last = rows[limit - 1].id if more else None
    return Page(rows[:limit], last)


def followups_of(session: Session, incident_id: int) -> list[FollowUp]:
    """An incident's follow-ups, in the order they were added."""
    statement = select(FollowUp).where(FollowUp.incident_id == incident_id).order_by(col(FollowUp.id))
    return list(session.exec(statement))


def list_alerts(
    session: Session,
    *,
    source: str | None,
    status: str | None,
    triage: str | None,
    reader: Reader,
    limit: int,
    before: int | None,
) -> Page[tuple[Alert, int | None]]:
    """Alerts newest first, each with the number of its incident; an alert of an incident only
    when `reader` may see that incident."""
    statement = (
        select(Alert, Incident.number, Incident.private)
        .join(Incident, col(Incident.id) == col(Alert.incident_id), isouter=True)
        .where(or_(col(Alert.incident_id).is_(None), readable(reader)))
        .order_by(col(Alert.id).desc())
        .limit(limit + 1)
    )
    if before is not None:
        statement = statement.where(col(Alert.id) < before)
    for column, value in ((Alert.source, source), (Alert.status, status), (Alert.triage, triage)):
        if value:
            statement = statement.where(column == value)
    rows: list[tuple[Alert, int | None]] = [(alert, number) for alert, number, _ in session.exec(statement)]
    more = len(rows) > limit
    return Page(rows[:limit], rows[limit - 1][0].id if more else None)
