"""Showing runbooks in a war room: which fit, and which are new there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.incidents.service import get_incident
from bot.playbooks.matching import Catalog, Facts, Fit
from storage.errors import is_unique_violation
from storage.models import Incident, PostedRunbook


def facts_of(incident: Incident) -> Facts:
    """What a runbook can match on for this incident."""
    return Facts(title=incident.title, severity=incident.severity)


def claim_new_runbooks(
    session: Session, incident_id: int, catalog: Catalog, at: datetime
) -> tuple[Incident, list[Fit]]:
    """The incident, and the fitting runbooks not yet shown in its room, marked as shown."""
    incident = get_incident(session, incident_id)
    claimed: list[Fit] = []
    if incident.channel_id is None:
        return incident, claimed  # nowhere to show them yet; the room's opening will
    for fit in catalog.match(facts_of(incident)):
        try:
            with session.begin_nested():
                session.add(
                    PostedRunbook(
                        incident_id=incident_id,
                        playbook_id=fit.playbook.id,
                        reasons=fit.why[:500],
                        posted_at=at,
                    )
                )
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            continue
        claimed.append(fit)
    return incident, claimed
