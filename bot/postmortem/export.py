"""`warroom export`: the postmortem draft of one incident, for the people allowed to read it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.errors import WarroomError
from bot.incidents.errors import IncidentNotFound
from bot.postmortem.draft import build_draft
from bot.postmortem.render import draft_json, draft_markdown
from storage.models import Incident, RoleAssignment, TimelineEvent

FORMATS = ("md", "json")


class PrivateIncident(WarroomError):
    """The incident is private and the reader is not one of its members."""


def members(session: Session, incident_id: int, declared_by: str) -> set[str]:
    """Everyone recorded as part of an incident: who declared it, held a role, or acted on it."""
    holders = select(RoleAssignment.user_id).where(RoleAssignment.incident_id == incident_id)
    actors = select(TimelineEvent.actor_id).where(
        TimelineEvent.incident_id == incident_id, col(TimelineEvent.actor_id).is_not(None)
    )
    return {declared_by, *session.exec(holders).all(), *(a for a in session.exec(actors).all() if a)}


def export_draft(
    session: Session, number: int, *, fmt: str, reader: str | None, admins: list[str], now: datetime
) -> str:
    """The draft of INC-`number` as Markdown or JSON; a private one only for its members and admins."""
    incident = session.exec(select(Incident).where(Incident.number == number)).first()
    if incident is None or incident.id is None:
        raise IncidentNotFound(f"INC-{number} does not exist in this database.")
    if incident.private and reader not in {*admins, *members(session, incident.id, incident.declared_by)}:
        raise PrivateIncident(
            f"{incident.ref} is private: only its members and Warroom admins may export it. "
            "If you took part, pass your Slack user id with --as."
        )
    draft = build_draft(session, incident.id, now=now)
    return draft_json(draft) if fmt == "json" else draft_markdown(draft)
