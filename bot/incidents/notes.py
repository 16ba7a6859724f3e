"""Notes and status updates on the timeline, and the list of open incidents."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.incidents.changes import AlreadyChanged, Context, Outcome, authorise
from bot.incidents.permissions import Action
from bot.incidents.rules import Status, escape_mrkdwn
from bot.incidents.service import get_incident, record_event
from storage.errors import is_unique_violation
from storage.models import Incident, ProcessedRequest, TimelineEvent


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
    if key is not None:
        try:
            with session.begin_nested():
                session.add(ProcessedRequest(key=key, kind="note", incident_id=incident_id, seen_at=ctx.at))
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            raise AlreadyChanged("That message is already on the timeline.") from None
    return record_event(
        session, incident, "note", at=ctx.at, actor_id=ctx.actor.user_id, text=text, data=source or {}
    )


def post_update(session: Session, incident_id: int, text: str, ctx: Context) -> Outcome:
    """A status update for the channel and the broadcast channel; it resets the reminder clock."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.NOTE, ctx)
    record_event(session, incident, "update", at=ctx.at, actor_id=ctx.actor.user_id, text=text)
    message = f":mega: *Update on {incident.ref}* from <@{ctx.actor.user_id}>:\n{escape_mrkdwn(text)}"
    return Outcome(incident, message, broadcast=True, refresh=False)


def open_incidents(session: Session) -> list[Incident]:
    """Incidents not yet closed, worst first, then oldest first."""
    statement = (
        select(Incident)
        .where(col(Incident.status) != Status.CLOSED.value)
        .order_by(col(Incident.severity), col(Incident.declared_at))
    )
    return list(session.exec(statement).all())
