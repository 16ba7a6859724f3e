"""Showing runbooks in a war room: which fit, which are new there, and which of their fixes run
without a click."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.incidents.changes import find_incident
from bot.incidents.service import get_incident
from bot.playbooks.matching import Catalog, Facts, Fit
from storage.errors import is_unique_violation
from storage.models import Alert, Incident, PostedRunbook, RemediationRun

Automatic = tuple[str, str]  # (playbook id, action id)


def facts_of(session: Session, incident: Incident) -> Facts:
    """What a runbook can match on: the title and severity, and the alert behind the incident."""
    alert = session.exec(
        select(Alert).where(Alert.incident_id == incident.id).order_by(col(Alert.id))
    ).first()
    if alert is None:
        return Facts(title=incident.title, severity=incident.severity)
    return Facts(
        title=incident.title,
        severity=incident.severity,
        service=alert.service_name,
        alert=alert.name or alert.title,  # Alertmanager's and Grafana's alertname; PagerDuty's title
    )


def claim_new_runbooks(
    session: Session, incident_id: int, catalog: Catalog, at: datetime
) -> tuple[Incident, list[Fit]]:
    """The incident, and the fitting runbooks not yet shown in its room, marked as shown."""
    incident = get_incident(session, incident_id)
    claimed: list[Fit] = []
    if incident.channel_id is None:
        return incident, claimed  # nowhere to show them yet; the room's opening will
    fits = catalog.match(facts_of(session, incident))
    rehearsed = catalog.get(incident.drill_of) if incident.drill_of else None
    if rehearsed is not None and all(fit.playbook.id != rehearsed.id for fit in fits):
        fits.insert(0, Fit(rehearsed, 0, ("the drill's scenario",)))
    for fit in fits:
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


def incident_facts(session: Session, number: int | None, channel_id: str) -> tuple[Incident, Facts]:
    """The incident named (or whose room this is) and what runbooks can match on."""
    incident = find_incident(session, number=number, channel_id=channel_id)
    return incident, facts_of(session, incident)


def automatic_actions(session: Session, incident: Incident, fits: list[Fit]) -> list[Automatic]:
    """The fixes to run without a click: auto-mode actions needing no parameters, of runbooks
    that fit because of the alert that opened `incident` (never for a person's declaration),
    except one that already ran on that alert (it failed: that is why the incident is open)."""
    alerts = session.exec(select(Alert.id).where(Alert.incident_id == incident.id)).all()
    if not alerts:
        return []
    ran = set(
        session.exec(
            select(RemediationRun.playbook_id, RemediationRun.action_id).where(
                col(RemediationRun.alert_id).in_(alerts)
            )
        ).all()
    )
    return [
        (fit.playbook.id, action.id)
        for fit in fits
        if fit.alert is not None
        for action in fit.playbook.meta.actions
        if action.mode == "auto" and not action.params and (fit.playbook.id, action.id) not in ran
    ]
