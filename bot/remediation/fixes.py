"""Automatic fixes run on an alert (self-healing): an action's track record, and the run an
alert asks for.

An action in `mode: auto` is on trial until it has `trial_runs` successful automatic runs since
its last failed one; a failure puts it back on trial. A run on an alert has no incident: it is
audited like any other run and shown on the alert's notice.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from bot.playbooks.matching import Catalog, Facts
from bot.playbooks.models import Action
from bot.remediation.requests import APPROVAL_TTL
from bot.remediation.runs import transition
from storage.errors import insert_new
from storage.models import Alert, RemediationRun, table

FAILED = ("failed", "timed_out", "unknown")


def alert_fixes(catalog: Catalog, facts: Facts) -> list[tuple[str, Action]]:
    """The auto-mode actions (needing no parameters) of runbooks that fit an alert because of
    the alert itself, best runbook first."""
    return [
        (fit.playbook.id, action)
        for fit in catalog.match(facts)
        if fit.alert is not None
        for action in fit.playbook.meta.actions
        if action.mode == "auto" and not action.params
    ]


def track_record(session: Session, playbook_id: str, action_id: str) -> int:
    """Successful automatic runs of an action (in incidents or on alerts) since its last failed one."""
    runs = table(RemediationRun)
    this = (
        runs.c.automatic.is_(True),
        runs.c.dry_run.is_(False),
        runs.c.playbook_id == playbook_id,
        runs.c.action_id == action_id,
    )
    failed = select(func.coalesce(func.max(runs.c.id), 0)).where(*this, runs.c.state.in_(FAILED))
    succeeded = (
        select(func.count())
        .select_from(runs)
        .where(*this, runs.c.state == "succeeded", runs.c.id > failed.scalar_subquery())
    )
    return int(session.execute(succeeded).scalar_one())


def request_alert_fix(
    session: Session,
    alert: Alert,
    playbook_id: str,
    action: Action,
    *,
    channel: str,
    bot: str,
    at: datetime,
    trial: bool,
) -> RemediationRun | None:
    """Ask for an automatic run of `action` on `alert`, shown on its notice in `channel`;
    approved at once (auto mode needs no approval). None when one is already open."""
    assert alert.id is not None
    facts = {"alert": alert.id, "playbook": playbook_id, "action": action.id, "target": action.target}
    row = {
        "alert_id": alert.id,
        "request_key": f"open:alert:{alert.id}:{playbook_id}/{action.id}",
        "playbook_id": playbook_id,
        "action_id": action.id,
        "label": action.label,
        "target": action.target,
        "risk": action.risk.value,
        "params": {},
        "binding": hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest(),
        "state": "proposed",
        "required_approvals": 0,
        "requested_by": bot,
        "automatic": True,
        "trial": trial,
        "dry_run": False,
        "requested_at": at,
        "expires_at": at + APPROVAL_TTL,
        "channel_id": channel,
    }
    runs = table(RemediationRun)
    created = session.execute(insert_new(session, runs, "request_key").returning(runs.c.id), [row]).first()
    if created is None:
        return None
    run = session.get_one(RemediationRun, created[0])
    why = f"alert {alert.id} fired; automatic fix " + ("on trial" if trial else "proven")
    transition(session, run, "requested", at=at, actor_id=bot, detail=why)
    transition(session, run, "approved", at=at, actor_id=bot, detail="auto mode: no approval required")
    return run
