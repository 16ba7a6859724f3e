"""Incident use cases. Each takes the session first and leaves Slack to the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Executable, delete, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.incidents.errors import IncidentNotFound
from bot.incidents.rules import Declaration, Severity, Status
from storage.errors import insert_new, is_unique_violation
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
    so it is four single-row statements rather than ORM flushes.
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
    values = incident.model_dump(exclude={"id", "number"})
    for _ in range(_NUMBER_ATTEMPTS):
        # Another declaration may take the next number meanwhile: ON CONFLICT skips it, no savepoint.
        taken = session.execute(_insert_incident(session), values).first()
        if taken is not None:
            incident.id, incident.number = taken
            break
    else:
        raise RuntimeError("could not allocate an incident number")
    if not _insert_key(session, incident, key=key):
        # Slack retried the request: the first declaration holds the key; give this row back.
        session.execute(delete(_INCIDENTS).where(_INCIDENTS.c.id == incident.id))
        existing = incident_for_key(session, key)
        assert existing is not None  # the key is only ever stored with its incident
        return existing, False
    _insert_declaration(session, incident)
    return incident, True


# Single statements with parameters cost a fraction of ORM flushes (SQLAlchemy caches their SQL).
_NEXT_NUMBER = select(func.coalesce(func.max(Incident.number), 0) + 1).scalar_subquery()
_INCIDENTS = table(Incident)
_KEYS = table(ProcessedRequest)
_INSERT_ROLE = insert(table(RoleAssignment))
_INSERT_EVENT = insert(table(TimelineEvent))


def _insert_incident(session: Session) -> Executable:
    statement = insert_new(session, _INCIDENTS, "number").values(number=_NEXT_NUMBER)
    return statement.returning(_INCIDENTS.c.id, _INCIDENTS.c.number)


def _insert_key(session: Session, incident: Incident, *, key: str) -> bool:
    row = {"key": key, "kind": "declare", "incident_id": incident.id, "seen_at": incident.declared_at}
    return session.execute(insert_new(session, _KEYS, "key").returning(_KEYS.c.id), row).first() is not None


def _insert_declaration(session: Session, incident: Incident) -> None:
    at, by = incident.declared_at, incident.declared_by
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


def record_call(session: Session, incident_id: int, url: str, *, at: datetime) -> Incident:
    """The meeting made for the incident (the first one recorded stays)."""
    incident = get_incident(session, incident_id)
    if incident.call_url is None:
        incident.call_url = url
        record_event(session, incident, "call_created", at=at, text=f"Call: {url}", data={"url": url})
    return incident


def claim_key(session: Session, key: str, kind: str, incident_id: int | None, at: datetime) -> bool:
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


def attach_channel(
    session: Session, incident_id: int, *, channel_id: str, channel_name: str, at: datetime
) -> Incident:
    """Remember the war-room channel Slack created for the incident (kept if one was recorded)."""
    statement = (
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.channel_id).is_(None))
        .values(channel_id=channel_id, channel_name=channel_name)
        .returning(Incident)
    )
    incident: Incident | None = session.execute(statement).scalar_one_or_none()
    if incident is None:
        return get_incident(session, incident_id)
    record_event(session, incident, "channel_created", at=at, text=f"War room #{channel_name} opened")
    return incident


def mark_room_ready(
    session: Session, incident_id: int, *, card_ts: str, broadcast_ts: str | None, at: datetime
) -> Incident | None:
    """Record the card and the announcement Slack confirmed, and that the room is ready; None
    when an earlier attempt did."""
    progress: dict[str, Any] = {"card_ts": card_ts, "room_ready_at": at}
    if broadcast_ts is not None:
        progress["broadcast_ts"] = broadcast_ts
    statement = (
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.room_ready_at).is_(None))
        .values(**progress)
        .returning(Incident)
    )
    incident: Incident | None = session.execute(statement).scalar_one_or_none()
    if incident is not None and broadcast_ts is not None:
        record_event(session, incident, "announced", at=at, text="Announced in the broadcast channel")
    return incident
