"""Notes and status updates on the timeline, and the list of open incidents."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.incidents.changes import (
    AlreadyChanged,
    Context,
    Outcome,
    authorise,
    find_incident,
    readable_incident,
)
from bot.incidents.permissions import Action
from bot.incidents.rules import Status
from bot.incidents.service import claim_key, get_incident, record_event, timeline
from bot.text import escape_mrkdwn
from storage.models import Incident, RoleAssignment, TimelineEvent


def add_note(
    session: Session,
    incident_id: int,
    text: str,
    ctx: Context,
    *,
    key: str | None = None,
    source: dict[str, str] | None = None,
) -> TimelineEvent:
    """Add a note to the timeline; a repeated `key` (a redelivered event) adds nothing."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.NOTE, ctx)
    if key is not None and not claim_key(session, key, "note", incident_id, ctx.at):
        raise AlreadyChanged("That message is already on the timeline.")
    return record_event(
        session, incident, "note", at=ctx.at, actor_id=ctx.actor.user_id, text=text, data=source or {}
    )


def post_update(session: Session, incident_id: int, text: str, ctx: Context) -> Outcome:
    """A status update for the channel and the broadcast channel; it resets the reminder clock."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.NOTE, ctx)
    record_event(session, incident, "update", at=ctx.at, actor_id=ctx.actor.user_id, text=text)
    incident.last_update_at = ctx.at
    message = f":mega: *Update on {incident.ref}* from <@{ctx.actor.user_id}>:\n{escape_mrkdwn(text)}"
    return Outcome(incident, message, broadcast=True, refresh=False)


def open_incidents(session: Session) -> list[Incident]:
    """Incidents not yet closed, worst first, then oldest first."""
    return list(session.exec(_open()).all())


def my_open_incidents(session: Session, user_id: str) -> list[Incident]:
    """Open incidents `user_id` declared or holds a role in now, worst first."""
    mine = or_(col(Incident.declared_by) == user_id, col(Incident.id).in_(_incidents_with_role(user_id)))
    return list(session.exec(_open().where(mine)).all())


def visible_open_incidents(session: Session, viewer: str, channel_id: str) -> tuple[list[Incident], int]:
    """Open incidents `viewer` may see, and how many private ones are hidden from them.

    A private incident shows to its role holders, its declarer and anyone asking from its room.
    """
    incidents = open_incidents(session)
    involved = set(session.exec(_incidents_with_role(viewer)))
    visible = [
        i
        for i in incidents
        if not i.private or i.id in involved or viewer == i.declared_by or channel_id == i.channel_id
    ]
    return visible, len(incidents) - len(visible)


def _open() -> SelectOfScalar[Incident]:
    return (
        select(Incident)
        .where(col(Incident.status) != Status.CLOSED.value)
        # real incidents before drills, then worst first, then oldest first
        .order_by(col(Incident.drill_of).is_not(None), col(Incident.severity), col(Incident.declared_at))
    )


def _incidents_with_role(user_id: str) -> SelectOfScalar[int]:
    return select(RoleAssignment.incident_id).where(
        RoleAssignment.user_id == user_id, col(RoleAssignment.relieved_at).is_(None)
    )


def readable_timeline(
    session: Session, number: int | None, channel_id: str, ctx: Context
) -> tuple[Incident, list[TimelineEvent]]:
    """The incident and its timeline; a private incident's only for the people in it."""
    incident = readable_incident(session, number, channel_id, ctx)
    assert incident.id is not None
    return incident, timeline(session, incident.id)


def add_message(
    session: Session, channel_id: str, message: dict[str, str], ctx: Context
) -> tuple[Incident, TimelineEvent]:
    """Put a war-room message (author, link, text) on the timeline, once per message."""
    incident = find_incident(session, number=None, channel_id=channel_id)
    assert incident.id is not None
    key = f"message:{channel_id}:{message['ts']}"
    return incident, add_note(session, incident.id, message["text"], ctx, key=key, source=message)
