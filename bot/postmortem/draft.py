"""Building the postmortem draft (`models.Draft`): everything recorded about one incident.

Built only from stored facts (incident row, timeline, roles, runs and votes, alerts, pages,
the review given at close, follow-ups). The timeline is read with Core selects because an
incident can have ten thousand events and ORM objects cost several times more per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Row, Select
from sqlmodel import Session, SQLModel, col, select

from bot.incidents.rules import Role
from bot.incidents.service import get_incident
from bot.postmortem import metrics
from bot.postmortem.models import (
    NOT_GIVEN,
    AlertSeen,
    Detection,
    Draft,
    Event,
    FollowUpItem,
    Impact,
    Metrics,
    PageSent,
    RoleHeld,
    Run,
    SeverityChange,
    StatusChange,
)
from bot.postmortem.questions import review_questions
from storage.models import (
    Alert,
    FollowUp,
    Incident,
    Page,
    PostmortemReview,
    RemediationRun,
    RemediationVote,
    RoleAssignment,
    Ticket,
    TimelineEvent,
    table,
)


def build_draft(session: Session, incident_id: int, *, now: datetime, timeline: bool = True) -> Draft:
    """The draft for one incident (IncidentNotFound for an unknown id); without its `timeline`
    for a reader that shows the timeline itself (the figures still come from every event)."""
    incident = get_incident(session, incident_id)
    events = session.execute(_timeline(incident_id)).all()
    history = metrics.read_history(
        session.execute(_history(incident_id)).all(),
        declared_at=incident.declared_at,
        declared_by=incident.declared_by,
        severity_now=incident.severity,
    )
    alerts = _rows(session, AlertSeen, Alert, incident_id, col(Alert.first_seen_at))
    runs = _runs(session, incident_id)
    resolved_at = metrics.resolution(incident.resolved_at, incident.status, history)
    facts = _facts(incident, history, resolved_at, events, alerts, runs)
    figures = metrics.figures(facts, now=now)
    review = session.exec(select(PostmortemReview).where(PostmortemReview.incident_id == incident_id)).first()
    roles = _rows(session, RoleHeld, RoleAssignment, incident_id, col(RoleAssignment.assigned_at))
    draft = Draft(
        **incident.model_dump(include=_INCIDENT_FIELDS),
        ref=incident.ref,
        severity=f"SEV{incident.severity}",
        worst_severity=f"SEV{figures.worst_severity}",
        resolved_at=resolved_at,
        severity_history=[
            SeverityChange(severity=f"SEV{s.severity}", at=s.at, by=s.by) for s in history.severities
        ],
        status_history=[StatusChange(**vars(step)) for step in history.statuses],
        impact=_impact(review),
        detection=_detection(incident, figures, alerts, review),
        alerts=alerts,
        pages=_rows(session, PageSent, Page, incident_id, col(Page.paged_at)),
        metrics=Metrics.model_validate(figures, from_attributes=True),
        roles=roles,
        ic_handovers=max(0, sum(1 for r in roles if r.role == Role.COMMANDER) - 1),
        remediation=runs,
        timeline=_with_authors(session, incident_id, events) if timeline else [],
        follow_ups=_follow_ups(session, incident_id),
        questions=[],
        generated_at=now,
    )
    draft.questions = review_questions(draft)
    return draft


_COPIED = "number title summary status private drill_of channel_id declared_by declared_at closed_at"
_INCIDENT_FIELDS = set(_COPIED.split())  # the same name and meaning on the incident row
M = TypeVar("M", bound=BaseModel)


def _rows(session: Session, model: type[M], stored: type[SQLModel], incident_id: int, order: Any) -> list[M]:
    """`model` for each row of `stored` on the incident, read by matching attribute names."""
    columns = table(stored).c
    statement = select(stored).where(columns.incident_id == incident_id).order_by(order, columns.id)
    return [model.model_validate(row, from_attributes=True) for row in session.exec(statement)]


def _facts(
    incident: Incident,
    history: metrics.History,
    resolved_at: datetime | None,
    events: Sequence[Row[int | None, datetime, str, str | None, str]],
    alerts: list[AlertSeen],
    runs: list[Run],
) -> metrics.Facts:
    fixes = (r.finished_at for r in runs if r.finished_at and r.state == metrics.SUCCEEDED and not r.dry_run)
    return metrics.Facts(
        declared_at=incident.declared_at,
        severities=history.severities,
        first_alert_at=alerts[0].first_seen_at if alerts else None,
        alert_acknowledged_at=min((a.acknowledged_at for a in alerts if a.acknowledged_at), default=None),
        first_response_at=metrics.first_response(((e.at, e.actor_id) for e in events), incident.declared_by),
        first_monitoring_at=history.first_monitoring_at,
        first_fix_at=min(fixes, default=None),
        resolved_at=resolved_at,
        closed_at=incident.closed_at,
    )


def _with_authors(session: Session, incident_id: int, rows: Sequence[Row[Any]]) -> list[Event]:
    """The timeline, naming the author of each captured message (kept in its note's data; only
    those few notes have data, so only they are decoded)."""
    e = TimelineEvent
    captured = sa.select(col(e.id), col(e.data)).where(
        col(e.incident_id) == incident_id, col(e.kind) == "note", sa.cast(col(e.data), sa.String) != "{}"
    )
    authors = {event_id: data.get("author") for event_id, data in session.execute(captured).all()}
    timeline = _EVENTS.validate_python(rows, from_attributes=True)
    if authors:
        for row, event in zip(rows, timeline, strict=True):
            event.author_id = authors.get(row.id)
    return timeline


_EVENTS = TypeAdapter(list[Event])  # validating the list at once is several times faster than per Event


def _timeline(incident_id: int) -> Select[int | None, datetime, str, str | None, str]:
    e = TimelineEvent
    return (
        sa.select(col(e.id), col(e.at), col(e.kind), col(e.actor_id), col(e.text))
        .where(col(e.incident_id) == incident_id)
        .order_by(col(e.at), col(e.id))
    )


def _history(incident_id: int) -> Select[datetime, str, str | None, dict[str, Any]]:
    """Only the events that change severity or status: decoding `data` is most of a row's cost."""
    e = TimelineEvent
    return (
        sa.select(col(e.at), col(e.kind), col(e.actor_id), col(e.data))
        .where(col(e.incident_id) == incident_id, col(e.kind).in_(metrics.HISTORY_KINDS))
        .order_by(col(e.at), col(e.id))
    )


def _impact(review: PostmortemReview | None) -> Impact:
    if review is None:
        return Impact(given=False, note=NOT_GIVEN)
    return Impact.model_validate({**review.model_dump(), "given": True})


def _detection(
    incident: Incident, figures: metrics.Figures, alerts: list[AlertSeen], review: PostmortemReview | None
) -> Detection:
    first = alerts[0] if alerts else None
    if figures.opened_by_alert and first is not None:
        summary = (
            f"Detected by an alert: {first.title} on {first.service_name or 'an unknown service'}, first "
            f"seen {first.first_seen_at:%Y-%m-%d %H:%M} UTC; "
            f"declared {metrics.duration(figures.time_to_detect)} later."
        )
    elif first is not None:
        summary = (
            f"Detected by a person: {incident.declared_by} declared it "
            f"{metrics.duration(figures.person_ahead_of_alert)} before the first alert ({first.title})."
        )
    elif incident.drill_of:
        summary = f"A drill: {incident.declared_by} started it to rehearse `{incident.drill_of}`."
    else:
        summary = f"Detected by a person: {incident.declared_by} declared it; no alert fired."
    return Detection(
        method="alert" if figures.opened_by_alert else "person",
        summary=summary,
        first_alert=first,
        alert_fired=first is not None,
        time_to_detect=figures.time_to_detect,
        person_ahead_of_alert=figures.person_ahead_of_alert,
        in_their_words=review.detection if review is not None else NOT_GIVEN,
    )


def _runs(session: Session, incident_id: int) -> list[Run]:
    runs = session.exec(
        select(RemediationRun)
        .where(RemediationRun.incident_id == incident_id)
        .order_by(col(RemediationRun.requested_at), col(RemediationRun.id))
    ).all()
    votes = session.exec(
        select(RemediationVote)
        .join(RemediationRun, col(RemediationRun.id) == col(RemediationVote.run_id))
        .where(RemediationRun.incident_id == incident_id)
        .order_by(col(RemediationVote.at), col(RemediationVote.id))
    ).all()
    return [
        Run.model_validate(
            {
                **run.model_dump(),
                "approvers": [v.voter_id for v in votes if v.run_id == run.id and v.approve],
                "rejecters": [v.voter_id for v in votes if v.run_id == run.id and not v.approve],
            }
        )
        for run in runs
    ]


def _follow_ups(session: Session, incident_id: int) -> list[FollowUpItem]:
    statement = (
        select(FollowUp, Ticket)
        .join(Ticket, col(Ticket.follow_up_id) == col(FollowUp.id), isouter=True)
        .where(FollowUp.incident_id == incident_id)
        .order_by(col(FollowUp.created_at), col(FollowUp.id))
    )
    return [
        FollowUpItem.model_validate(
            {
                **f.model_dump(),
                "done": f.done_at is not None,
                "ticket_url": ticket.url if ticket else None,
                "ticket_state": ticket.status if ticket and ticket.url else None,
            }
        )
        for f, ticket in session.exec(statement)
    ]
