"""Asking to run an action, voting on it, and voiding requests when the incident changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.incidents.changes import Context, authorise, current_roles
from bot.incidents.permissions import Action as Permission
from bot.incidents.service import get_incident, record_event
from bot.playbooks.matching import Catalog
from bot.remediation.params import Value
from bot.remediation.runs import (
    RunNotFound,
    RunRefused,
    binding,
    describe,
    find_action,
    holds,
    open_key,
    transition,
)
from storage.errors import is_unique_violation
from storage.models import RemediationRun, RemediationVote

APPROVAL_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class Requested:
    """A run asked for, and whether this request created it (a double click finds the first)."""

    run: RemediationRun
    created: bool


def request_run(
    session: Session,
    incident_id: int,
    catalog: Catalog,
    playbook_id: str,
    action_id: str,
    params: dict[str, Value],
    ctx: Context,
    *,
    groups: frozenset[str] = frozenset(),
    dry_run: bool = False,
    automatic: bool = False,
) -> Requested:
    """Record a request; one open run per action and parameters per incident.

    An `automatic` request is Warroom's own, for an action the runbook put in auto mode (low
    risk, no approval): it is audited as automatic and passes the same pre-checks. In a drill
    every run is a dry run.
    """
    incident = get_incident(session, incident_id)
    authorise(session, incident, Permission.NOTE, ctx)
    action = find_action(catalog, playbook_id, action_id)
    who = ctx.actor.user_id
    if automatic and (action.mode != "auto" or action.required_approvals):
        raise RunRefused(f"{action.label} is not promoted to auto mode.")
    allowed = holds(action.requesters, who, current_roles(session, incident_id), groups) or who in ctx.admins
    if not (automatic or allowed):
        raise RunRefused(f"Only {describe(action.requesters)} (or a Warroom admin) may run {action.label}.")
    key = open_key(incident_id, playbook_id, action_id, dict(params))
    existing = session.exec(select(RemediationRun).where(RemediationRun.request_key == key)).first()
    if existing is not None:
        return Requested(existing, False)
    run = RemediationRun(
        incident_id=incident_id,
        request_key=key,
        playbook_id=playbook_id,
        action_id=action_id,
        label=action.label,
        target=action.target,
        risk=action.risk.value,
        params=dict(params),
        binding=binding(
            incident, playbook_id=playbook_id, action_id=action_id, target=action.target, params=dict(params)
        ),
        state="proposed",
        required_approvals=action.required_approvals,
        requested_by=who,
        dry_run=dry_run or incident.drill_of is not None,
        automatic=automatic,
        requested_at=ctx.at,
        expires_at=ctx.at + APPROVAL_TTL,
        channel_id=incident.channel_id,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        first = session.exec(select(RemediationRun).where(RemediationRun.request_key == key)).one()
        return Requested(first, False)
    transition(session, run, "requested", at=ctx.at, actor_id=who, detail=f"params {params}")
    if run.required_approvals == 0:
        transition(session, run, "approved", at=ctx.at, actor_id=who, detail="no approval required")
    record_event(
        session,
        incident,
        "remediation_requested",
        at=ctx.at,
        actor_id=who,
        text=f"Asked to run {action.label} on {action.target}",
        data={"run": run.id, "params": params},
    )
    return Requested(run, True)


def get_run(session: Session, run_id: int, *, lock: bool = False) -> RemediationRun:
    """A run by id; `lock` holds its row until the transaction ends (votes queue on it)."""
    statement = select(RemediationRun).where(RemediationRun.id == run_id)
    run = session.exec(statement.with_for_update() if lock else statement).first()
    if run is None:
        raise RunNotFound("That remediation request no longer exists.")
    return run


def _close_if_stale(session: Session, run: RemediationRun, incident_id: int, ctx: Context) -> bool:
    """Expire or void a request whose window passed or whose incident changed; True if it did."""
    incident = get_incident(session, incident_id)
    if ctx.at >= run.expires_at:
        return transition(
            session, run, "expired", at=ctx.at, actor_id=ctx.actor.user_id, detail="window over"
        )
    if binding(incident, run) != run.binding:
        return transition(
            session, run, "cancelled", at=ctx.at, detail="the incident changed since the request"
        )
    return False


def vote(
    session: Session,
    run_id: int,
    approve: bool,
    catalog: Catalog,
    ctx: Context,
    *,
    groups: frozenset[str] = frozenset(),
) -> tuple[RemediationRun, bool]:
    """Count one person's vote; True when this vote completed the approvals (its caller, and
    only it, dispatches). A request found expired or voided is closed; the caller tells the voter."""
    run = get_run(session, run_id, lock=True)
    incident_id = run.incident_id
    if run.state != "requested" or incident_id is None:  # an automatic fix on an alert takes no votes
        raise RunRefused(f"This request is already {run.state}.")
    if _close_if_stale(session, run, incident_id, ctx):
        return run, False
    action = find_action(catalog, run.playbook_id, run.action_id)
    who = ctx.actor.user_id
    if who == run.requested_by:
        raise RunRefused("You asked for this run; someone else must approve it (two-person rule).")
    roles = current_roles(session, incident_id)
    if not (holds(action.approvers, who, roles, groups) or who in ctx.admins):
        raise RunRefused(
            f"Only {describe(action.approvers)} (or a Warroom admin) may approve {action.label}."
        )
    try:
        with session.begin_nested():
            session.add(RemediationVote(run_id=run_id, voter_id=who, approve=approve, at=ctx.at))
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise RunRefused("You already voted on this request.") from None
    if not approve:
        transition(session, run, "rejected", at=ctx.at, actor_id=who, detail="rejected")
        return run, False
    if len(approvals(session, run_id)) < run.required_approvals:
        return run, False
    return run, transition(session, run, "approved", at=ctx.at, actor_id=who, detail="approvals complete")


def approvals(session: Session, run_id: int) -> list[str]:
    """Who approved a run, in order."""
    statement = (
        select(RemediationVote.voter_id)
        .where(RemediationVote.run_id == run_id, col(RemediationVote.approve).is_(True))
        .order_by(col(RemediationVote.id))
    )
    return list(session.exec(statement).all())
