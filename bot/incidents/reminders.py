"""Status-update reminders, derived from the incident rows so a restart loses none.

A reminder is due an interval (by severity) after the last update, the last reminder or the
declaration, whichever is latest, or when a snooze ends. Claiming it is a compare-and-set on
`last_reminded_at`, so however many processes look, one sends it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.incidents.changes import AlreadyChanged, Context, authorise, compare_and_set
from bot.incidents.permissions import Action
from bot.incidents.rules import OPEN_STATUSES, Status
from bot.incidents.service import get_incident, record_event
from storage.models import Incident
from storage.session import take_turn

SNOOZE = timedelta(minutes=15)
CLOSE_NUDGE_AFTER = timedelta(hours=24)


def reminder_due_at(incident: Incident, intervals: dict[int, int]) -> datetime | None:
    """When the next reminder is due, or None (no interval for its severity, or not open)."""
    minutes = intervals.get(incident.severity, 0)
    if not minutes or incident.status not in OPEN_STATUSES or incident.room_ready_at is None:
        return None
    moments = (incident.declared_at, incident.last_update_at, incident.last_reminded_at)
    due = max(moment for moment in moments if moment is not None) + timedelta(minutes=minutes)
    snoozed = incident.reminder_snoozed_until
    return max(due, snoozed) if snoozed is not None else due


def claim_due_reminders(session: Session, now: datetime, intervals: dict[int, int]) -> list[Incident]:
    """Mark every due reminder as sent now and return those incidents (this caller sends them)."""
    if not take_turn(session, "reminders"):
        return []
    statement = select(Incident).where(col(Incident.status).in_([s.value for s in OPEN_STATUSES]))
    claimed = []
    for incident in session.exec(statement).all():
        due = reminder_due_at(incident, intervals)
        if due is None or now < due:
            continue
        if compare_and_set(
            session, incident, {"last_reminded_at": incident.last_reminded_at}, last_reminded_at=now
        ):
            claimed.append(incident)
    return claimed


def claim_close_nudges(session: Session, now: datetime) -> list[Incident]:
    """Incidents resolved a day ago and still not closed (no postmortem yet): each is claimed
    once per resolution, by compare-and-set on `last_reminded_at`."""
    if not take_turn(session, "close-nudges"):
        return []
    statement = select(Incident).where(
        Incident.status == Status.RESOLVED.value, col(Incident.resolved_at) <= now - CLOSE_NUDGE_AFTER
    )
    claimed = []
    for incident in session.exec(statement).all():
        reminded, resolved = incident.last_reminded_at, incident.resolved_at
        if reminded is not None and resolved is not None and reminded >= resolved:
            continue
        if compare_and_set(session, incident, {"last_reminded_at": reminded}, last_reminded_at=now):
            claimed.append(incident)
    return claimed


def snooze_reminder(session: Session, incident_id: int, ctx: Context) -> Incident:
    """Put the next reminder off by 15 minutes; a second click does nothing."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.NOTE, ctx)
    until = ctx.at + SNOOZE
    current = incident.reminder_snoozed_until
    if current is not None and current > ctx.at + SNOOZE - timedelta(minutes=1):
        raise AlreadyChanged(f"Reminders for {incident.ref} are already snoozed until {current:%H:%M} UTC.")
    if not compare_and_set(
        session, incident, {"reminder_snoozed_until": current}, reminder_snoozed_until=until
    ):
        raise AlreadyChanged(f"Reminders for {incident.ref} were just snoozed by someone else.")
    record_event(
        session,
        incident,
        "reminder_snoozed",
        at=ctx.at,
        actor_id=ctx.actor.user_id,
        text=f"Reminders snoozed until {until:%H:%M} UTC",
    )
    return incident
