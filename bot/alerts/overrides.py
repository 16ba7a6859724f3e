"""Triage from where alerts are read: acknowledge, declare, and rules made from Slack.

*Mark as noise* ignores an alert (its key, or its whole label set) for some days, *Downgrade*
makes it low, *Route to* sends its notices to another channel. Each is a `TriageOverride` row
(who, when, why, until when) that comes before the YAML rules while it is active; `/incident
triage` lists and reverts them. Only admins and the triage group make them.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.alerts.triage import Decision, Rule, RuleMatch, Rules
from bot.incidents.errors import InvalidInput
from bot.incidents.permissions import NotAllowed
from storage.models import Alert, AlertEvent, TriageOverride, table

Action = Literal["noise", "downgrade", "route"]
Scope = Literal["key", "labels"]
MAX_DAYS = 90
_DECISION: dict[str, Decision] = {"noise": "ignore", "downgrade": "low", "route": "low"}


@dataclass(frozen=True)
class Triagers:
    """Who may make triage rules from Slack: Warroom's admins and the triage group's members."""

    admins: tuple[str, ...]
    group: tuple[str, ...]

    def check(self, user_id: str) -> None:
        """Refuse anyone else, saying who may."""
        if user_id not in self.admins and user_id not in self.group:
            raise NotAllowed("Only Warroom admins and the triage group can change how alerts are triaged.")


def get_alert(session: Session, alert_id: int) -> Alert:
    """The alert, or InvalidInput when it is gone."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise InvalidInput("That alert is no longer known to Warroom.")
    return alert


def acknowledge(session: Session, alert_id: int, *, by: str, at: datetime) -> tuple[Alert, bool]:
    """Mark the alert acknowledged by `by`; False when someone already had."""
    alert = get_alert(session, alert_id)
    if alert.acknowledged_at is not None:
        return alert, False
    alert.acknowledged_at, alert.status = at, "acknowledged" if alert.status != "resolved" else alert.status
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, kind="acknowledged", at=at))
    return alert, True


def make_override(
    session: Session,
    alert_id: int,
    action: Action,
    *,
    scope: Scope,
    days: int,
    reason: str,
    by: str,
    at: datetime,
    channel: str | None = None,
) -> TriageOverride:
    """Store a rule made from Slack for this alert; InvalidInput saying what is wrong."""
    alert = get_alert(session, alert_id)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"Choose between 1 and {MAX_DAYS} days.")
    if not reason.strip():
        raise InvalidInput("Say why, so whoever reviews the alert report knows.")
    if action == "route" and not channel:
        raise InvalidInput("Choose the channel its notices should go to.")
    if scope == "labels" and not alert.labels:
        raise InvalidInput("This alert has no labels; choose *this alert* instead.")
    match: dict[str, Any]
    if scope == "key":
        match, about = {"key": glob.escape(alert.dedup_key)}, f"the alert {alert.title[:200]}"
    else:
        match = {"labels": {name: glob.escape(value) for name, value in alert.labels.items()}}
        about = "alerts labelled " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    override = TriageOverride(
        alert_id=alert.id,
        action=action,
        match=match,
        about=about[:300],
        channel=channel if action == "route" else None,
        reason=reason.strip()[:500],
        created_by=by,
        created_at=at,
        expires_at=at + timedelta(days=days),
    )
    session.add(override)
    session.flush()
    return override


def revert(session: Session, override_id: int, *, by: str, at: datetime) -> TriageOverride:
    """End a rule made from Slack now; InvalidInput when it is not active."""
    override = session.get(TriageOverride, override_id)
    if override is None or override.reverted_at is not None or override.expires_at <= at:
        raise InvalidInput(f"No active triage rule #{override_id}; `/incident triage` lists them.")
    override.reverted_by, override.reverted_at = by, at
    return override


def active_overrides(session: Session, at: datetime) -> list[TriageOverride]:
    """Rules made from Slack that apply now, newest first (the newest decides)."""
    statement = (
        select(TriageOverride)
        .where(col(TriageOverride.reverted_at).is_(None), TriageOverride.expires_at > at)
        .order_by(col(TriageOverride.id).desc())
    )
    return list(session.exec(statement))


def with_overrides(session: Session, rules: Rules, at: datetime) -> Rules:
    """The YAML rules with the active rules made from Slack before them (one query a batch)."""
    made = [
        Rule(
            name=f"slack-{override.id}",
            match=RuleMatch.model_validate(override.match),
            triage=_DECISION[override.action],
            channel=override.channel,
        )
        for override in active_overrides(session, at)
    ]
    return rules.replaced(rules=(*made, *rules.rules)) if made else rules


def count_applied(session: Session, decided: dict[str, int]) -> None:
    """Add how many new alerts each rule made from Slack decided (by rule name)."""
    overrides = table(TriageOverride)
    for name, count in decided.items():
        if name.startswith("slack-") and name[6:].isdigit():
            session.execute(
                update(overrides)
                .where(overrides.c.id == int(name[6:]))
                .values(applied=overrides.c.applied + count)
            )
