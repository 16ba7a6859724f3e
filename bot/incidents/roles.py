"""Handing over the incident commander role and assigning the others."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.incidents.changes import AlreadyChanged, Context, Outcome, authorise, compare_and_set, void_bound
from bot.incidents.permissions import Action
from bot.incidents.rules import Role
from bot.incidents.service import get_incident, record_event
from storage.models import RoleAssignment


def assign_role(
    session: Session, incident_id: int, role: Role, user_id: str, ctx: Context, expected: str | None = None
) -> Outcome:
    """Give `role` to `user_id`, relieving whoever held it (`expected`, when a form showed who);
    the new holder is invited."""
    incident = get_incident(session, incident_id)
    authorise(session, incident, Action.HAND_OVER if role is Role.COMMANDER else Action.CHANGE, ctx)
    assert incident.id is not None
    holder = _holder(session, incident.id, role)
    previous = holder.user_id if holder else None
    if previous == user_id:
        raise AlreadyChanged(f"<@{user_id}> is already the {role.label.lower()} of {incident.ref}.")
    if expected is not None and previous != expected:
        raise AlreadyChanged(f"The {role.label.lower()} was just changed to {_mention(previous)}.")
    if role is Role.COMMANDER and not compare_and_set(
        session, incident, {"commander_id": incident.commander_id}, commander_id=user_id
    ):
        raise AlreadyChanged(f"The incident commander was just changed to <@{incident.commander_id}>.")
    if holder is not None:
        holder.relieved_at = ctx.at
        session.add(holder)
    by = ctx.actor.user_id
    session.add(
        RoleAssignment(
            incident_id=incident.id, role=role.value, user_id=user_id, assigned_by=by, assigned_at=ctx.at
        )
    )
    record_event(
        session,
        incident,
        "role_assigned",
        at=ctx.at,
        actor_id=by,
        text=f"{role.label}: {_mention(previous)} → <@{user_id}>",
        data={"role": role.value, "from": previous, "to": user_id},
    )
    message = _handover_message(role, by, previous, user_id)
    if role is Role.COMMANDER:
        message += void_bound(session, incident_id, "the incident commander changed", ctx.at, by)
    return Outcome(incident, message, invite=(user_id,))


def _holder(session: Session, incident_id: int, role: Role) -> RoleAssignment | None:
    statement = select(RoleAssignment).where(
        RoleAssignment.incident_id == incident_id,
        RoleAssignment.role == role.value,
        col(RoleAssignment.relieved_at).is_(None),
    )
    return session.exec(statement).first()


def _mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "nobody"


def _handover_message(role: Role, by: str, previous: str | None, new: str) -> str:
    if role is Role.COMMANDER:
        return (
            f"<@{by}> handed the incident commander role from {_mention(previous)} to <@{new}>. "
            f"<@{new}>, you are now in charge."
        )
    was = f" (was {_mention(previous)})" if previous else ""
    return f"<@{by}> made <@{new}> the {role.value}{was}."
