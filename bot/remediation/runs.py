"""The run state machine: every transition a compare-and-set plus an audit row, one transaction.

proposed → requested → approved → announced → running → succeeded | failed | timed_out | unknown,
side exits rejected, expired, cancelled, blocked.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.errors import WarroomError
from bot.incidents.changes import on_change_void
from bot.incidents.rules import Role
from bot.playbooks.matching import Catalog
from bot.playbooks.models import Action
from storage.models import Incident, RemediationAudit, RemediationRun, table

OPEN = ("proposed", "requested", "approved", "announced", "running")
TERMINAL = ("succeeded", "failed", "timed_out", "unknown", "rejected", "expired", "cancelled", "blocked")
_ROLE_NAMES = {
    "ic": Role.COMMANDER,
    "commander": Role.COMMANDER,
    "comms": Role.COMMS,
    "scribe": Role.SCRIBE,
    "ops": Role.OPS,
}


class RunRefused(WarroomError):
    """The run may not go ahead; the message says why and what to do."""


class RunNotFound(WarroomError):
    """No such remediation run."""


def open_key(incident_id: int, playbook_id: str, action_id: str, params: dict[str, Any]) -> str:
    """The key that allows one open run per action and parameters in an incident."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return f"open:{incident_id}:{playbook_id}/{action_id}:{digest}"


def binding(incident: Incident, run: RemediationRun | None = None, **fields: Any) -> str:
    """What an approval is bound to: action, parameters, incident, target, severity and IC."""
    facts = {
        "incident": incident.id,
        "severity": incident.severity,
        "commander": incident.commander_id,
        "playbook": run.playbook_id if run else fields["playbook_id"],
        "action": run.action_id if run else fields["action_id"],
        "target": run.target if run else fields["target"],
        "params": run.params if run else fields["params"],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def holds(entries: tuple[str, ...], user_id: str, roles: dict[Role, str], groups: frozenset[str]) -> bool:
    """Whether `user_id` is named in `entries` by role, by user id or by user group."""
    for entry in entries:
        role = _ROLE_NAMES.get(entry)
        if (role is not None and roles.get(role) == user_id) or entry == user_id or entry in groups:
            return True
    return False


def _name(entry: str) -> str:
    if entry in ("ic", "commander"):
        return "the IC"
    if entry in _ROLE_NAMES:
        return f"the {entry}"
    return f"<!subteam^{entry}>" if entry.startswith("S") else f"<@{entry}>"


def describe(entries: tuple[str, ...]) -> str:
    """`the IC, the ops, <!subteam^S1>` as people read it."""
    return ", ".join(_name(entry) for entry in entries) or "nobody"


def transition(
    session: Session,
    run: RemediationRun,
    to: str,
    *,
    at: datetime,
    actor_id: str | None = None,
    detail: str = "",
    **values: Any,
) -> bool:
    """Move `run` from its current state to `to` if nobody moved it first; audit the move."""
    was = run.state
    runs = table(RemediationRun)
    if to in TERMINAL:
        values["request_key"] = f"done:{run.id}"  # frees the open key for a later request
    result = session.execute(
        update(runs).where(runs.c.id == run.id, runs.c.state == was).values(state=to, **values)
    )
    session.refresh(run)
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    assert run.id is not None
    session.add(
        RemediationAudit(run_id=run.id, at=at, from_state=was, to_state=to, actor_id=actor_id, detail=detail)
    )
    return True


def find_action(catalog: Catalog, playbook_id: str, action_id: str) -> Action:
    """A runbook action as loaded now."""
    playbook = catalog.get(playbook_id)
    action = next((a for a in playbook.meta.actions if a.id == action_id), None) if playbook else None
    if action is None:
        raise RunRefused(f"`{playbook_id}/{action_id}` is not an action of the loaded runbooks.")
    return action


def void_pending(session: Session, incident_id: int, reason: str, at: datetime, actor_id: str) -> str:
    """Cancel requests not yet announced because the incident changed; a line saying so, or ""."""
    statement = select(RemediationRun).where(
        RemediationRun.incident_id == incident_id, col(RemediationRun.state).in_(["requested", "approved"])
    )
    voided = [
        run
        for run in session.exec(statement).all()
        if transition(session, run, "cancelled", at=at, actor_id=actor_id, detail=f"voided: {reason}")
    ]
    if not voided:
        return ""
    names = ", ".join(f"{run.label} (asked by <@{run.requested_by}>)" for run in voided)
    return f"\nVoided pending remediation requests because {reason}: {names}. Ask again if still needed."


def remember_message(session: Session, run_id: int, channel_id: str, ts: str) -> None:
    """Where the request message is, so votes can update it in place."""
    run = session.get(RemediationRun, run_id)
    if run is not None:
        run.channel_id, run.message_ts = channel_id, ts
        session.add(run)


def resolve_action(catalog: Catalog, reference: str) -> tuple[str, str]:
    """`rollback-checkout` or `checkout-5xx/rollback-checkout` → (playbook id, action id)."""
    playbook_id, _, action_id = reference.rpartition("/")
    found = [
        (playbook.id, action.id)
        for playbook in catalog.playbooks.values()
        for action in playbook.meta.actions
        if action.id == action_id and playbook_id in ("", playbook.id)
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise RunRefused(f"No runbook has an action `{reference[:60]}`; `/incident runbooks` lists them.")
    raise RunRefused(
        "Several runbooks have that action; name one: " + ", ".join(f"`{p}/{a}`" for p, a in found)
    )


def last_detail(session: Session, run_id: int) -> str:
    """Why the run last changed state (e.g. the pre-check that blocked it)."""
    statement = (
        select(RemediationAudit.detail)
        .where(RemediationAudit.run_id == run_id)
        .order_by(col(RemediationAudit.id).desc())
    )
    return session.exec(statement).first() or ""


on_change_void(void_pending)
