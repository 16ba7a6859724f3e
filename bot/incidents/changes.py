"""Changing a running incident: severity, status, roles, resolve, close, reopen.

Every change is a compare-and-set on the incident row, so two people pressing at once give
one change; the other is told who was first. Each returns an `Outcome`: what Slack should
show, sent afterwards by the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.errors import WarroomError
from bot.incidents.errors import IncidentNotFound
from bot.incidents.permissions import Action, Actor, check
from bot.incidents.rules import OPEN_STATUSES, Role, Severity, Status
from bot.incidents.service import get_incident, record_event
from bot.text import escape_mrkdwn
from storage.models import Incident, RoleAssignment, TimelineEvent, table

T = TypeVar("T")
# What an incident change voids (remediation approvals bound to the old facts) is registered by
# the package that owns it: it imports incidents, so incidents cannot import it back.
Voider = Callable[[Session, int, str, datetime, str], str]
_VOIDERS: list[Voider] = []


def on_change_void(voider: Voider) -> None:
    """Have `voider(session, incident_id, reason, at, actor_id)` void what a severity, commander
    or close change invalidates; it returns a line for the room, or ""."""
    _VOIDERS.append(voider)


def void_bound(session: Session, incident_id: int, reason: str, at: datetime, actor_id: str) -> str:
    """Void what was bound to the incident as it was; the lines saying so, or ""."""
    return "".join(voider(session, incident_id, reason, at, actor_id) for voider in _VOIDERS)


class AlreadyChanged(WarroomError):
    """Nothing to do: the incident is already in the asked-for state (the message says who set it)."""


class IncidentClosed(WarroomError):
    """The incident is closed; it must be reopened before it changes."""


@dataclass(frozen=True)
class Outcome:
    """What a change means for Slack; the worker renders and sends it."""

    incident: Incident
    message: str
    broadcast: bool = False
    invite: tuple[str, ...] = ()
    refresh: bool = True
    rematch: bool = False  # the runbooks that fit may have changed
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """Who asks, from which channel, when, and who administers Warroom."""

    actor: Actor
    at: datetime
    admins: list[str]
    channel_id: str | None = None
    bot_user_id: str | None = None  # an incident opened from an alert has Warroom as its IC


def find_incident(session: Session, *, number: int | None, channel_id: str) -> Incident:
    """The incident named by number, or else the one whose war room this channel is."""
    statement = select(Incident)
    if number is not None:
        statement = statement.where(Incident.number == number)
    else:
        statement = statement.where(Incident.channel_id == channel_id)
    incident = session.exec(statement).first()
    if incident is not None:
        return incident
    if number is not None:
        raise IncidentNotFound(f"INC-{number} does not exist. `/incident list` shows the open incidents.")
    raise IncidentNotFound(
        "This channel is not an incident war room: run the command in the war room, or name the "
        "incident first, e.g. `/incident INC-4 sev 2`."
    )


def readable_incident(session: Session, number: int | None, channel_id: str, ctx: Context) -> Incident:
    """The incident named (or whose room this is), if `ctx.actor` may see it: a private one is
    only for its people."""
    incident = find_incident(session, number=number, channel_id=channel_id)
    if incident.private:
        ensure_may(session, incident, Action.READ, ctx)
    return incident


def for_incident(
    session: Session, number: int | None, channel_id: str, use_case: Callable[..., T], *args: Any
) -> T:
    """Find the incident (by number, else by war room) and run `use_case(session, id, *args)`."""
    incident = find_incident(session, number=number, channel_id=channel_id)
    assert incident.id is not None
    return use_case(session, incident.id, *args)


def current_roles(session: Session, incident_id: int) -> dict[Role, str]:
    """Who holds each role now."""
    statement = select(RoleAssignment).where(
        RoleAssignment.incident_id == incident_id, col(RoleAssignment.relieved_at).is_(None)
    )
    return {Role(row.role): row.user_id for row in session.exec(statement)}


def authorise(session: Session, incident: Incident, action: Action, ctx: Context) -> None:
    """Raise unless the incident may change and `ctx.actor` may do `action` to it."""
    assert incident.id is not None
    if incident.status == Status.CLOSED and action is not Action.CLOSE:
        if incident.archived_at is not None:
            raise IncidentClosed(
                f"{incident.ref} is closed and its war room archived: declare a new incident "
                f"and mention {incident.ref} in it."
            )
        raise IncidentClosed(f"{incident.ref} is closed; `/incident {incident.ref} reopen` it first.")
    ensure_may(session, incident, action, ctx)


def ensure_may(session: Session, incident: Incident, action: Action, ctx: Context) -> None:
    """Raise `NotAllowed` unless `ctx.actor` may do `action`, whatever the incident's status."""
    assert incident.id is not None
    roles = current_roles(session, incident.id)
    check(
        action,
        ctx.actor,
        commander=incident.commander_id,
        scribe=roles.get(Role.SCRIBE),
        admins=ctx.admins,
        in_channel=ctx.channel_id is not None and ctx.channel_id == incident.channel_id,
        commander_is_bot=ctx.bot_user_id is not None and incident.commander_id == ctx.bot_user_id,
    )


def _last_actor(session: Session, incident: Incident, kind: str) -> str:
    statement = (
        select(TimelineEvent.actor_id)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == kind)
        .order_by(col(TimelineEvent.id).desc())
    )
    actor = session.exec(statement).first()
    return f" (changed by <@{actor}>)" if actor else ""


def compare_and_set(session: Session, incident: Incident, expected: dict[str, Any], **values: Any) -> bool:
    """Write `values` only if the row still has `expected`; True when this call won."""
    incidents = table(Incident)
    conditions = [incidents.c.id == incident.id] + [incidents.c[name] == v for name, v in expected.items()]
    result = session.execute(update(incidents).where(*conditions).values(**values))
    session.refresh(incident)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def change_severity(
    session: Session, incident_id: int, to: Severity, ctx: Context, expected: Severity | None = None
) -> Outcome:
    """Set the severity (from `expected`, when a form showed one); raising it is broadcast."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.CHANGE, ctx)
    was = Severity(incident.severity) if expected is None else expected
    if was == to or not compare_and_set(session, incident, {"severity": int(was)}, severity=int(to)):
        raise AlreadyChanged(
            f"{incident.ref} is already {Severity(incident.severity).label}"
            f"{_last_actor(session, incident, 'severity_changed')}."
        )
    by = ctx.actor.user_id
    record_event(
        session,
        incident,
        "severity_changed",
        at=ctx.at,
        actor_id=by,
        text=f"Severity {was.label} → {to.label}",
        data={"from": int(was), "to": int(to)},
    )
    message = f"<@{by}> changed the severity from {was.label} to *{to.label}*."
    message += void_bound(session, incident_id, f"the severity changed to {to.label}", ctx.at, by)
    return Outcome(incident, message, broadcast=to < was, rematch=True)


_STATUS_TIMES = {
    Status.IDENTIFIED: "identified_at",
    Status.MONITORING: "monitoring_at",
    Status.RESOLVED: "resolved_at",
}


def change_status(
    session: Session,
    incident_id: int,
    to: Status,
    ctx: Context,
    summary: str = "",
    expected: Status | None = None,
) -> Outcome:
    """Move the incident to an open status or to resolved (from `expected`, when a form showed
    one); every status change is broadcast."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.CHANGE, ctx)
    was = Status(incident.status) if expected is None else expected
    values: dict[str, Any] = {"status": to.value}
    if to in _STATUS_TIMES:
        values[_STATUS_TIMES[to]] = ctx.at
    if was == to or not compare_and_set(session, incident, {"status": was.value}, **values):
        raise AlreadyChanged(
            f"{incident.ref} is already {Status(incident.status).value}"
            f"{_last_actor(session, incident, 'status_changed')}."
        )
    by = ctx.actor.user_id
    record_event(
        session,
        incident,
        "status_changed",
        at=ctx.at,
        actor_id=by,
        text=f"Status {was.value} → {to.value}" + (f": {summary}" if summary else ""),
        data={"from": was.value, "to": to.value, "summary": summary},
    )
    message = f"<@{by}> changed the status from {was.label} to *{to.label}*."
    if summary:
        message += f"\n>{escape_mrkdwn(summary)}"
    return Outcome(incident, message, broadcast=True, data={"resolved": to is Status.RESOLVED})


def incident_to_close(session: Session, incident_id: int, ctx: Context) -> Incident:
    """The incident, if it is resolved and `ctx.actor` may close it (the commander or an admin)."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.CLOSE, ctx)
    if incident.status == Status.CLOSED:
        raise AlreadyChanged(f"{incident.ref} is already closed{_last_actor(session, incident, 'closed')}.")
    if incident.status != Status.RESOLVED:
        raise WarroomError(
            f"{incident.ref} is {incident.status}; resolve it first with "
            "`/incident resolve [summary]`, then close it."
        )
    return incident


def close_incident(session: Session, incident_id: int, ctx: Context) -> Outcome:
    """Close a resolved incident (the commander or an admin)."""
    incident = incident_to_close(session, incident_id, ctx)
    if not compare_and_set(
        session, incident, {"status": Status.RESOLVED.value}, status=Status.CLOSED.value, closed_at=ctx.at
    ):
        raise AlreadyChanged(f"{incident.ref} was just changed by someone else; look at the card.")
    record_event(session, incident, "closed", at=ctx.at, actor_id=ctx.actor.user_id, text="Closed")
    message = f"<@{ctx.actor.user_id}> closed {incident.ref}."
    message += void_bound(session, incident_id, "the incident closed", ctx.at, ctx.actor.user_id)
    return Outcome(incident, message, broadcast=True)


def reopen_incident(session: Session, incident_id: int, ctx: Context) -> Outcome:
    """Reopen a resolved or closed incident as investigating."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.CLOSE, ctx)
    was = Status(incident.status)
    if was in OPEN_STATUSES:
        raise AlreadyChanged(f"{incident.ref} is still open ({was.value}).")
    if incident.archived_at is not None:
        raise WarroomError(
            f"{incident.ref}'s war room is archived, so it cannot be reopened: declare a new incident "
            f"and mention {incident.ref} in its title or summary."
        )
    if not compare_and_set(
        session,
        incident,
        {"status": was.value},
        status=Status.INVESTIGATING.value,
        resolved_at=None,
        closed_at=None,
        archive_noticed_at=None,
    ):
        raise AlreadyChanged(f"{incident.ref} was just reopened{_last_actor(session, incident, 'reopened')}.")
    record_event(
        session,
        incident,
        "reopened",
        at=ctx.at,
        actor_id=ctx.actor.user_id,
        text=f"Reopened (was {was.value})",
        data={"from": was.value},
    )
    return Outcome(
        incident,
        f"<@{ctx.actor.user_id}> reopened {incident.ref}; it is *Investigating* again.",
        broadcast=True,
    )


def resolve_incident(session: Session, incident_id: int, summary: str, ctx: Context) -> Outcome:
    """Mark the incident resolved, with an optional summary of what fixed it."""
    return change_status(session, incident_id, Status.RESOLVED, ctx, summary)


def incident_for_action(session: Session, incident_id: int, action: Action, ctx: Context) -> Incident:
    """The incident, if `ctx.actor` may do `action` to it now (checked before a form opens)."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, action, ctx)
    return incident
