"""Tickets for follow-ups: asking for one (once per follow-up, whoever clicks how often), what
the issue says, recording it once filed, and a state change from the tracker (closed: the
follow-up is done; reopened: open again). Plain Python and SQL, no tracker or Slack here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.adapters.trackers import Issue, NewIssue
from bot.errors import WarroomError
from bot.incidents.changes import Context, ensure_may
from bot.incidents.followups import FollowUpNotFound
from bot.incidents.permissions import Action
from bot.incidents.service import claim_key, get_incident, record_event
from storage.errors import is_unique_violation
from storage.models import Alert, FollowUp, Incident, Ticket, table

GITHUB, JIRA = "github", "jira"
TITLE_MAX = 120


class NoTicketForDrills(WarroomError):
    """A drill's follow-ups are practice: they stay in Warroom."""


def request_ticket(
    session: Session, followup_id: int, ctx: Context, *, tracker: str, project: str
) -> tuple[Ticket, FollowUp, Incident, bool]:
    """The follow-up's ticket, asked for now unless it was before; whether this call asked."""
    followup = session.get(FollowUp, followup_id)
    if followup is None:
        raise FollowUpNotFound("That follow-up does not exist.")
    incident = get_incident(session, followup.incident_id)
    ensure_may(session, incident, Action.NOTE, ctx)
    if incident.drill_of is not None:
        raise NoTicketForDrills(f"{incident.ref} is a drill: its follow-ups stay in Warroom.")
    existing = ticket_of(session, followup_id)
    if existing is not None:
        return existing, followup, incident, False
    ticket = Ticket(
        follow_up_id=followup_id,
        tracker=tracker,
        project=project,
        marker=f"warroom-ticket-{uuid.uuid4().hex}",
        requested_by=ctx.actor.user_id,
        requested_at=ctx.at,
    )
    try:
        with session.begin_nested():
            session.add(ticket)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raced = ticket_of(session, followup_id)  # another click won the race
        assert raced is not None
        return raced, followup, incident, False
    record_event(
        session,
        incident,
        "ticket_requested",
        at=ctx.at,
        actor_id=ctx.actor.user_id,
        text=f"Ticket asked for in {project}: {followup.text}",
        data={"followup_id": followup_id, "tracker": tracker},
    )
    return ticket, followup, incident, True


def incident_service(session: Session, incident_id: int) -> str | None:
    """The service of the incident's first linked alert (what picks its tracker), if any."""
    statement = select(Alert.service_name).where(Alert.incident_id == incident_id).order_by(col(Alert.id))
    return session.exec(statement).first() or None


def ticket_of(session: Session, followup_id: int) -> Ticket | None:
    """The follow-up's ticket, if one was asked for."""
    return session.exec(select(Ticket).where(Ticket.follow_up_id == followup_id)).first()


def issue_for(
    followup: FollowUp,
    incident: Incident,
    ticket: Ticket,
    *,
    link: str | None,
    labels: list[str],
    owner_login: str | None = None,
    owner_email: str | None = None,
) -> NewIssue:
    """The issue to file for a follow-up: its title, text and where it came from."""
    first_line = followup.text.strip().splitlines()[0] if followup.text.strip() else "Follow-up"
    title = first_line if len(first_line) <= TITLE_MAX else first_line[: TITLE_MAX - 1] + "…"
    return NewIssue(
        title=f"{incident.ref}: {title}",
        text=followup.text,
        origin=f"Follow-up from {incident.ref}: {incident.title} (SEV{incident.severity}).",
        link=link,
        due_on=followup.due_on,
        labels=tuple(labels),
        marker=ticket.marker,
        owner_login=owner_login,
        owner_email=owner_email,
    )


def record_issue(session: Session, ticket_id: int, issue: Issue, *, at: datetime) -> Ticket:
    """The issue is filed: remember which."""
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    if ticket.ref is None:
        ticket.ref, ticket.url, ticket.status, ticket.created_at = issue.ref, issue.url, "open", at
        ticket.last_error = ""
        followup = session.get(FollowUp, ticket.follow_up_id)
        assert followup is not None
        incident = get_incident(session, followup.incident_id)
        record_event(
            session,
            incident,
            "ticket_created",
            at=at,
            text=f"Follow-up filed as {ticket_name(ticket)}: {issue.url}",
            data={"followup_id": followup.id, "url": issue.url},
        )
    return ticket


def ticket_name(ticket: Ticket) -> str:
    """How people name the issue: acme/incidents#12 on GitHub, OPS-12 on Jira."""
    return f"{ticket.project}#{ticket.ref}" if ticket.tracker == GITHUB else str(ticket.ref)


def note_tracker_down(session: Session, ticket_id: int, error: str) -> int:
    """One more try found the tracker down; how many have."""
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    ticket.attempts += 1
    ticket.last_error = error[:500]
    return ticket.attempts


def note_refused(session: Session, ticket_id: int, error: str) -> None:
    """The tracker refused the issue: it will not be filed without a change."""
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    ticket.status, ticket.last_error = "refused", error[:500]


@dataclass(frozen=True)
class IssueChange:
    """What a tracker's webhook says happened to an issue."""

    delivery: str  # the tracker's delivery id: a redelivery changes nothing
    project: str
    ref: str  # "12" on GitHub, "OPS-12" on Jira
    closed: bool  # the issue's state now
    changed_at: datetime  # when the tracker changed it (deliveries may come out of order)
    login: str  # who changed it in the tracker
    by: str | None  # who that is in Slack, when known


def apply_issue_state(
    session: Session, tracker: str, change: IssueChange, *, at: datetime
) -> tuple[Ticket, FollowUp, Incident] | None:
    """The tracker says the issue was closed (the follow-up is done) or reopened (open again);
    None for a delivery seen before, an issue Warroom did not file, a change older than the
    last one applied, or a state the follow-up already has."""
    if not claim_key(session, f"{tracker}:{change.delivery}", f"{tracker}_webhook", None, at):
        return None
    ticket = session.exec(
        select(Ticket).where(
            Ticket.tracker == tracker, Ticket.project == change.project, Ticket.ref == change.ref
        )
    ).first()
    if ticket is None or (ticket.changed_at is not None and change.changed_at < ticket.changed_at):
        return None
    closed, by, login = change.closed, change.by, change.login
    followup = session.get(FollowUp, ticket.follow_up_id)
    assert followup is not None and followup.id is not None
    ticket.status, ticket.changed_at = ("closed" if closed else "open"), change.changed_at
    follow_ups = table(FollowUp)
    is_done = follow_ups.c.done_at.is_not(None)
    changed = session.execute(
        update(follow_ups)
        .where(follow_ups.c.id == followup.id, ~is_done if closed else is_done)
        .values(done_at=at if closed else None, done_by=by if closed else None)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(followup)
    if not changed:
        return None
    incident = get_incident(session, followup.incident_id)
    kind, verb = ("followup_done", "closed") if closed else ("followup_reopened", "reopened")
    record_event(
        session,
        incident,
        kind,
        at=at,
        actor_id=by,
        text=f"{followup.text} ({verb} in {ticket_name(ticket)} by {login})",
        data={"followup_id": followup.id, "tracker": tracker, "login": login},
    )
    return ticket, followup, incident
