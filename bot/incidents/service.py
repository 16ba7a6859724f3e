"""Incident use cases. Each takes the session first and leaves Slack to the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.incidents.errors import IncidentNotFound
from bot.incidents.rules import Declaration, Severity, Status
from storage.errors import is_unique_violation
from storage.models import Incident, ProcessedRequest, RoleAssignment, TimelineEvent, table

COMMANDER = "commander"
_NUMBER_ATTEMPTS = 50


def declare_incident(
    session: Session,
    declaration: Declaration,
    *,
    by: str,
    at: datetime,
    key: str,
    source_channel_id: str | None = None,
    response_url: str | None = None,
) -> tuple[Incident, bool]:
    """Take the next number for a declaration; a repeated `key` returns the first incident.

    Returns the incident and whether this call created it. This runs on the request path,
    so it is a handful of single-row statements rather than ORM flushes.
    """
    incident = Incident(
        number=0,
        title=declaration.title,
        summary=declaration.summary,
        severity=int(declaration.severity),
        status=Status.INVESTIGATING,
        private=declaration.private,
        drill_of=declaration.drill_of,
        source_channel_id=source_channel_id,
        commander_id=by,
        declared_by=by,
        declared_at=at,
        response_url=response_url,
    )
    for _ in range(_NUMBER_ATTEMPTS):
        try:
            with session.begin_nested():
                _insert_declaration(session, incident, key=key)
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            # this key was declared before (a retry), or another declaration took the number
            existing = incident_for_key(session, key)
            if existing is not None:
                return existing, False
            continue
        return incident, True
    raise RuntimeError("could not allocate an incident number")


# Built once: compiled statements with parameters cost a fraction of ORM flushes.
_NEXT_NUMBER = select(func.coalesce(func.max(Incident.number), 0) + 1).scalar_subquery()
_INCIDENTS = table(Incident)
_INSERT_INCIDENT = (
    insert(_INCIDENTS).values(number=_NEXT_NUMBER).returning(_INCIDENTS.c.id, _INCIDENTS.c.number)
)
_INSERT_KEY = insert(table(ProcessedRequest))
_INSERT_ROLE = insert(table(RoleAssignment))
_INSERT_EVENT = insert(table(TimelineEvent))


def _insert_declaration(session: Session, incident: Incident, *, key: str) -> None:
    values = incident.model_dump(exclude={"id", "number"})
    incident.id, incident.number = session.execute(_INSERT_INCIDENT, values).one()
    at, by = incident.declared_at, incident.declared_by
    session.execute(_INSERT_KEY, {"key": key, "kind": "declare", "incident_id": incident.id, "seen_at": at})
    session.execute(
        _INSERT_ROLE,
        {"incident_id": incident.id, "role": COMMANDER, "user_id": by, "assigned_by": by, "assigned_at": at},
    )
    severity = Severity(incident.severity)
    event = {
        "incident_id": incident.id,
        "at": at,
        "kind": "declared",
        "actor_id": by,
        "text": f"Declared {severity.label}: {incident.title}",
        "data": {"severity": incident.severity, "private": incident.private, "drill_of": incident.drill_of},
    }
    session.execute(_INSERT_EVENT, event)


def claim_key(session: Session, key: str, kind: str, incident_id: int, at: datetime) -> bool:
    """Record an idempotency key under its unique constraint; False when it was seen before."""
    try:
        with session.begin_nested():
            session.add(ProcessedRequest(key=key, kind=kind, incident_id=incident_id, seen_at=at))
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return False
    return True


def incident_for_key(session: Session, key: str) -> Incident | None:
    """The incident an idempotency key already declared, if any."""
    statement = (
        select(Incident)
        .join(ProcessedRequest, col(ProcessedRequest.incident_id) == col(Incident.id))
        .where(ProcessedRequest.key == key)
    )
    return session.exec(statement).first()


def get_incident(session: Session, incident_id: int) -> Incident:
    """The incident with this database id (a forged or oversized id is simply not found)."""
    incident = session.get(Incident, incident_id) if 0 < incident_id < 2**31 else None
    if incident is None:
        raise IncidentNotFound(f"Incident #{incident_id} does not exist.")
    return incident


def record_event(
    session: Session,
    incident: Incident,
    kind: str,
    *,
    at: datetime,
    actor_id: str | None = None,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append a fact to the incident's timeline."""
    assert incident.id is not None
    event = TimelineEvent(
        incident_id=incident.id, at=at, kind=kind, actor_id=actor_id, text=text, data=data or {}
    )
    session.add(event)
    return event


def timeline(session: Session, incident_id: int) -> list[TimelineEvent]:
    """The incident's timeline, oldest first."""
    statement = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return list(session.exec(statement).all())


def rooms_to_finish(session: Session) -> list[Incident]:
    """Incidents whose war room setup did not finish (e.g. the process stopped midway)."""
    statement = select(Incident).where(
        col(Incident.room_ready_at).is_(None), col(Incident.closed_at).is_(None)
    )
    return list(session.exec(statement).all())


_ROOM_FIELDS = frozenset({"card_ts", "room_ready_at"})


def attach_channel(
    session: Session, incident_id: int, *, channel_id: str, channel_name: str, at: datetime
) -> Incident:
    """Remember the war-room channel Slack created for the incident."""
    incident = get_incident(session, incident_id)
    incident.channel_id, incident.channel_name = channel_id, channel_name
    record_event(session, incident, "channel_created", at=at, text=f"War room #{channel_name} opened")
    return incident


def mark_room(session: Session, incident_id: int, **progress: Any) -> Incident:
    """Record a war-room step Slack confirmed, so a restart resumes instead of repeating it."""
    unknown = set(progress) - _ROOM_FIELDS
    if unknown:
        raise ValueError(f"not war-room progress fields: {sorted(unknown)}")
    incident = get_incident(session, incident_id)
    for name, value in progress.items():
        setattr(incident, name, value)
    return incident


def record_announcement(session: Session, incident_id: int, *, ts: str, at: datetime) -> Incident:
    """Remember the broadcast message and note it on the timeline."""
    incident = get_incident(session, incident_id)
    incident.broadcast_ts = ts
    record_event(session, incident, "announced", at=at, text="Announced in the broadcast channel")
    return incident
