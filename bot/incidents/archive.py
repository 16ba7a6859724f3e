"""The archive of closed war rooms, derived from the incident rows so a restart loses nothing.

A closed room gets a notice a lead time before it is archived (a day, or half the delay when
that is shorter), then is archived no earlier than the notice promised. Each step is claimed
by a compare-and-set that also checks the incident is still closed at the same moment, so a
reopen in between cancels it and several processes act once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.incidents.changes import compare_and_set
from bot.incidents.rules import Status
from bot.incidents.service import get_incident, record_event
from storage.models import Incident
from storage.session import take_turn

MAX_LEAD = timedelta(hours=24)


def archive_lead(delay: timedelta) -> timedelta:
    """How long before archiving the room is told: a day, or half the delay when shorter."""
    return min(MAX_LEAD, delay / 2)


def notice_due_at(incident: Incident, delay: timedelta) -> datetime | None:
    """When the notice is due, or None (not closed, no room, already noticed or archived)."""
    if not _waiting(incident) or incident.archive_noticed_at is not None:
        return None
    assert incident.closed_at is not None
    return incident.closed_at + delay - archive_lead(delay)


def archive_due_at(incident: Incident, delay: timedelta) -> datetime | None:
    """When the room is archived: the delay after closing, but never sooner than the notice said."""
    if not _waiting(incident) or incident.archive_noticed_at is None:
        return None
    assert incident.closed_at is not None
    return max(incident.closed_at + delay, incident.archive_noticed_at + archive_lead(delay))


def _waiting(incident: Incident) -> bool:
    return (
        incident.status == Status.CLOSED
        and incident.closed_at is not None
        and incident.channel_id is not None
        and incident.archived_at is None
    )


def _closed_rooms(session: Session) -> list[Incident]:
    statement = select(Incident).where(
        col(Incident.status) == Status.CLOSED.value,
        col(Incident.channel_id).is_not(None),
        col(Incident.closed_at).is_not(None),
        col(Incident.archived_at).is_(None),
    )
    return list(session.exec(statement).all())


def _unchanged(incident: Incident) -> dict[str, object]:
    return {
        "status": Status.CLOSED.value,
        "closed_at": incident.closed_at,
        "archive_noticed_at": incident.archive_noticed_at,
        "archived_at": None,
    }


def claim_archive_notices(
    session: Session, now: datetime, delay: timedelta
) -> list[tuple[Incident, datetime]]:
    """Mark the notices due at `now` as given; each incident with the moment it will be archived."""
    if not take_turn(session, "archive-notices"):
        return []
    claimed = []
    for incident in _closed_rooms(session):
        due = notice_due_at(incident, delay)
        if due is None or now < due:
            continue
        if compare_and_set(session, incident, _unchanged(incident), archive_noticed_at=now):
            archive_at = archive_due_at(incident, delay)
            assert archive_at is not None
            claimed.append((incident, archive_at))
    return claimed


def claim_archives(session: Session, now: datetime, delay: timedelta) -> list[Incident]:
    """Mark the rooms due for archiving at `now` as archived; the caller archives them in Slack."""
    if not take_turn(session, "archive"):
        return []
    claimed = []
    for incident in _closed_rooms(session):
        due = archive_due_at(incident, delay)
        if due is None or now < due:
            continue
        if compare_and_set(session, incident, _unchanged(incident), archived_at=now):
            claimed.append(incident)
    return claimed


def record_archive(session: Session, incident_id: int, at: datetime, error: str | None = None) -> Incident:
    """Note on the timeline that the room was archived, or why Slack refused (not tried again)."""
    incident = get_incident(session, incident_id)
    if error is None:
        record_event(session, incident, "archived", at=at, text=f"War room #{incident.channel_name} archived")
    else:
        text = f"War room #{incident.channel_name} could not be archived: {error}"
        record_event(session, incident, "archive_failed", at=at, text=text, data={"error": error})
    return incident
