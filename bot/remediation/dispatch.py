"""Before, during and after a run: pre-checks, the kill switch, the result."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.incidents.changes import Context, current_roles
from bot.incidents.errors import InvalidInput
from bot.incidents.permissions import NotAllowed
from bot.incidents.rules import OPEN_STATUSES
from bot.incidents.service import get_incident, record_event
from bot.playbooks.matching import Catalog
from bot.playbooks.models import Action
from bot.remediation.requests import get_run
from bot.remediation.runs import RunRefused, describe, find_action, holds, transition
from bot.text import escape_mrkdwn, plural
from storage.models import Alert, KillSwitch, RemediationRun
from storage.session import take_turn

REASON_MAX = 200  # the kill_switches.reason column
ALERT_RESOLVED = "the alert resolved before the fix ran"


def engaged_kill_switch(session: Session, playbook_id: str, action_id: str) -> KillSwitch | None:
    """The kill switch stopping this action (all remediation's first), or None; newest change wins."""
    for scope in ("*", f"{playbook_id}/{action_id}"):
        statement = select(KillSwitch).where(KillSwitch.scope == scope).order_by(col(KillSwitch.id).desc())
        latest = session.exec(statement).first()
        if latest is not None and latest.engaged:
            return latest
    return None


def set_kill_switch(
    session: Session, scope: str, engaged: bool, ctx: Context, reason: str = ""
) -> KillSwitch:
    """Engage or release a kill switch (admins only), as a new audit row; effective at the next dispatch."""
    if ctx.actor.user_id not in ctx.admins:
        raise NotAllowed("Only a Warroom admin (WARROOM_ADMINS) can use the kill switch.")
    reason = " ".join(reason.split())
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"The reason is {len(reason)} characters; keep it to {REASON_MAX}.")
    switch = KillSwitch(
        scope=scope, engaged=engaged, changed_by=ctx.actor.user_id, changed_at=ctx.at, reason=reason
    )
    session.add(switch)
    return switch


def kill_switch_refusal(switch: KillSwitch) -> str:
    """Why a run was blocked: which kill switch, who engaged it, when and why, and how to release it."""
    stopped = "all remediation" if switch.scope == "*" else f"`{switch.scope}`"
    why = f": {escape_mrkdwn(switch.reason.rstrip('.'))}" if switch.reason else ""
    release = "/incident killswitch off" + ("" if switch.scope == "*" else f" {switch.scope}")
    return (
        f"blocked by the kill switch on {stopped}, engaged by <@{switch.changed_by}> "
        f"at {switch.changed_at:%Y-%m-%d %H:%M} UTC{why}. A Warroom admin releases it with `{release}`"
    )


def _runs_since(session: Session, run: RemediationRun, since: datetime) -> int:
    statement = (
        select(func.count())
        .select_from(RemediationRun)
        .where(
            RemediationRun.playbook_id == run.playbook_id,
            RemediationRun.action_id == run.action_id,
            col(RemediationRun.dispatched_at) >= since,
        )
    )
    return int(session.exec(statement).one())


def _refusal(session: Session, run: RemediationRun, action: Action, at: datetime) -> str | None:
    if run.incident_id is None:  # an automatic fix on an alert
        alert = session.get(Alert, run.alert_id)
        if alert is None or alert.status == "resolved":
            return ALERT_RESOLVED
    else:
        incident = get_incident(session, run.incident_id)
        if incident.status not in OPEN_STATUSES:
            return f"{incident.ref} is {incident.status}"
        roles = current_roles(session, run.incident_id)
        if not holds(action.requesters, run.requested_by, roles, frozenset()) and not run.automatic:
            return f"<@{run.requested_by}> is no longer among {describe(action.requesters)}"
    if action.cooldown and _runs_since(session, run, at - timedelta(seconds=action.cooldown)):
        return f"{action.label} ran less than {action.cooldown // 60 or 1} min ago (cooldown)"
    if _runs_since(session, run, at - timedelta(hours=1)) >= action.max_runs_per_hour:
        return f"{action.label} already ran {plural(action.max_runs_per_hour, 'time')} this hour"
    switch = engaged_kill_switch(session, run.playbook_id, run.action_id)
    if switch is not None:
        return kill_switch_refusal(switch)
    if not run.target.strip() or run.target.strip().lower() in ("all", "*"):
        return "its target is empty or everything"
    return None


def announce_run(session: Session, run_id: int, catalog: Catalog, at: datetime) -> RemediationRun:
    """approved → announced after the pre-checks, or → blocked with the reason."""
    run = get_run(session, run_id, lock=True)
    if run.state != "approved":
        raise RunRefused(f"This run is {run.state}, not approved.")
    action = find_action(catalog, run.playbook_id, run.action_id)
    # one pre-check of an action at a time across processes, so limits hold under races
    refusal = _refusal(session, run, action, at)
    if not take_turn(session, f"remediation:{run.playbook_id}/{run.action_id}"):
        refusal = "another run of this action is starting right now"
    if refusal is not None:
        transition(session, run, "blocked", at=at, detail=refusal)
        return run
    if not transition(session, run, "announced", at=at, detail="pre-checks passed"):
        raise RunRefused("This run is already under way.")
    if run.incident_id is not None:
        record_event(
            session,
            get_incident(session, run.incident_id),
            "remediation_announced",
            at=at,
            text=f"Running {run.label} on {run.target}",
            data={"run": run.id, "params": run.params, "automatic": run.automatic},
        )
    return run


def start_run(session: Session, run_id: int, at: datetime) -> RemediationRun:
    """announced → running, checking the kill switch right before anything is sent."""
    run = get_run(session, run_id)
    switch = engaged_kill_switch(session, run.playbook_id, run.action_id)
    if switch is not None:
        transition(session, run, "blocked", at=at, detail=kill_switch_refusal(switch))
    elif not transition(session, run, "running", at=at, detail="dispatched", dispatched_at=at):
        raise RunRefused("This run is already under way.")
    return run


def finish_run(
    session: Session, run_id: int, outcome: str, detail: str, excerpt: str, at: datetime
) -> RemediationRun:
    """running → the outcome, with what a responder needs to read; a timeline event."""
    run = get_run(session, run_id)
    transition(session, run, outcome, at=at, detail=detail, finished_at=at, outcome=detail, excerpt=excerpt)
    if run.incident_id is not None:
        record_event(
            session,
            get_incident(session, run.incident_id),
            "remediation_finished",
            at=at,
            text=f"{run.label}: {outcome} ({detail})",
            data={"run": run.id, "outcome": outcome, "automatic": run.automatic},
        )
    return run
