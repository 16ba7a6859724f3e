"""PagerDuty webhook deliveries to alerts: store first, then de-duplicate, triage and link.

A delivery is stored under its unique `X-Webhook-Id` before the webhook is answered; processing
claims it with a compare-and-set, so a retry, a second worker or a restart handles it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.alerts.triage import Rules
from bot.incidents.errors import InvalidInput
from bot.incidents.rules import Declaration, Severity, clean_title
from bot.incidents.service import declare_incident, get_incident, record_event
from storage.errors import is_unique_violation
from storage.models import Alert, AlertEvent, Incident, WebhookDelivery, table

HANDLED = ("incident.triggered", "incident.acknowledged", "incident.resolved", "incident.reopened")


@dataclass(frozen=True)
class Processed:
    """What Slack should show for one delivery."""

    alert: Alert | None = None
    opened: Incident | None = None  # a new incident to open a war room for
    notice: tuple[str, str] | None = None  # (channel, text) for a low-urgency alert
    linked: Incident | None = None  # an incident whose war room hears about the change
    line: str = ""


def store_delivery(session: Session, delivery_id: str, body: str, at: datetime) -> bool:
    """Keep a delivery durably; False when this `X-Webhook-Id` was seen before."""
    try:
        with session.begin_nested():
            session.add(WebhookDelivery(delivery_id=delivery_id, body=body, received_at=at))
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return False
    return True


def unprocessed(session: Session, limit: int = 500) -> list[int]:
    """Deliveries stored but not yet handled, oldest first."""
    statement = select(WebhookDelivery.id).where(col(WebhookDelivery.processed_at).is_(None))
    return [
        i
        for i in session.exec(statement.order_by(col(WebhookDelivery.id)).limit(limit)).all()
        if i is not None
    ]


def process_batch(
    session: Session, delivery_pks: list[int], rules: Rules, bot_user_id: str, at: datetime
) -> list[Processed]:
    """Handle many deliveries in one transaction, each in a savepoint of its own.

    A delivery that loses a race to create its alert is simply tried again: the alert exists now.
    """
    results = []
    for pk in delivery_pks:
        for _ in range(2):
            try:
                with session.begin_nested():
                    result = process_delivery(session, pk, rules, bot_user_id, at)
                break
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                result = None
            except (InvalidInput, ValueError, TypeError, AttributeError) as exc:
                _set_aside(session, pk, at, f"could not be processed: {exc}")
                result = None
                break
        if result is not None:
            results.append(result)
    return results


def process_delivery(
    session: Session, delivery_pk: int, rules: Rules, bot_user_id: str, at: datetime
) -> Processed | None:
    """Handle one stored delivery (None when another worker already did)."""
    deliveries = table(WebhookDelivery)
    claimed = session.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_pk, deliveries.c.processed_at.is_(None))
        .values(processed_at=at)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    delivery = session.get(WebhookDelivery, delivery_pk)
    assert delivery is not None
    event = json.loads(delivery.body).get("event") or {}
    kind = str(event.get("event_type", ""))
    if kind not in HANDLED:
        delivery.outcome = f"ignored {kind or 'unknown'} event"[:200]
        return Processed()
    data = event.get("data") or {}
    occurred = _time(event.get("occurred_at")) or at
    if kind in ("incident.triggered", "incident.reopened"):
        result = _triggered(session, data, rules, bot_user_id, occurred)
    else:
        result = _changed(session, data, kind.removeprefix("incident."), event.get("agent") or {}, occurred)
    delivery.outcome = (f"{kind} alert {result.alert.id}" if result.alert else kind)[:200]
    return result


def _set_aside(session: Session, pk: int, at: datetime, outcome: str) -> None:
    """Mark a malformed delivery handled, saying why, so it never blocks the ones after it."""
    deliveries = table(WebhookDelivery)
    session.execute(
        update(deliveries).where(deliveries.c.id == pk).values(processed_at=at, outcome=outcome[:200])
    )


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _key(data: dict[str, Any]) -> str:
    return str(data.get("incident_key") or data.get("id") or "")[:255]


def _triggered(session: Session, data: dict[str, Any], rules: Rules, bot: str, at: datetime) -> Processed:
    key = _key(data)
    if not key:
        raise InvalidInput("the event carries no incident id")
    alert = session.exec(select(Alert).where(Alert.dedup_key == key)).first()
    service = data.get("service") or {}
    urgency, priority = str(data.get("urgency") or ""), str((data.get("priority") or {}).get("summary") or "")
    if alert is not None:
        return Processed(alert=_repeat(session, alert, at, paged=urgency == "high"))
    name = str(service.get("summary") or "")
    title = str(data.get("title") or "untitled alert")[:1024]
    decision, rule = rules.decide(name, title, urgency, priority)
    alert = Alert(
        dedup_key=key,
        pd_incident_id=str(data.get("id") or "")[:64],
        service_id=str(service.get("id") or ""),
        service_name=name[:200],
        title=title,
        urgency=urgency,
        priority=priority[:50],
        triage=decision,
        rule=rule.name if rule else "default",
        first_seen_at=at,
        last_seen_at=at,
        raw=data,
    )
    session.add(alert)
    session.flush()
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, kind="triggered", at=at, paged=urgency == "high"))
    if decision == "high":
        return _declare(session, alert, Severity(rule.severity if rule else 2), bot, at)
    if decision == "low" and (channel := rules.notice_channel(name)):
        text = f":bell: Low-urgency alert on *{name or 'an unknown service'}*: {title} (not paged by Warroom)"
        return Processed(alert=alert, notice=(channel, text))
    return Processed(alert=alert)


def _repeat(session: Session, alert: Alert, at: datetime, *, paged: bool) -> Alert:
    """Count a repeat in the database itself, so simultaneous repeats are all counted."""
    alerts = table(Alert)
    session.execute(
        update(alerts).where(alerts.c.id == alert.id).values(count=alerts.c.count + 1, status="triggered")
    )
    session.refresh(alert)
    if alert.last_seen_at < at:
        alert.last_seen_at = at
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, kind="triggered", at=at, paged=paged))
    return alert


def _declare(session: Session, alert: Alert, severity: Severity, bot: str, at: datetime) -> Processed:
    try:
        title = clean_title(alert.title[:120])
    except InvalidInput:
        title = f"Alert on {alert.service_name or 'PagerDuty'}"
    declaration = Declaration(
        title=title,
        severity=severity,
        summary=f"Opened from PagerDuty alert on {alert.service_name}: {alert.title}"[:2000],
    )
    incident, created = declare_incident(session, declaration, by=bot, at=at, key=f"alert:{alert.dedup_key}")
    alert.incident_id = incident.id
    record_event(
        session,
        incident,
        "alert",
        at=at,
        text=f"PagerDuty alert: {alert.title}",
        data={"alert": alert.id, "service": alert.service_name, "pd_incident": alert.pd_incident_id},
    )
    return Processed(alert=alert, opened=incident if created else None)


def _changed(
    session: Session, data: dict[str, Any], status: str, agent: dict[str, Any], at: datetime
) -> Processed:
    alert = session.exec(select(Alert).where(Alert.dedup_key == _key(data))).first()
    if alert is None:
        return Processed()
    alert.status = status
    if status == "acknowledged" and alert.acknowledged_at is None:
        alert.acknowledged_at = at
    if status == "resolved":
        alert.resolved_at = at
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, kind=status, at=at))
    if alert.incident_id is None:
        return Processed(alert=alert)
    incident = get_incident(session, alert.incident_id)
    who = str(agent.get("summary") or "PagerDuty")
    line = f"PagerDuty: {alert.title} {status} by {who}"
    record_event(session, incident, f"alert_{status}", at=at, text=line, data={"alert": alert.id})
    return Processed(alert=alert, linked=incident, line=line)


def linked_pagerduty_incidents(session: Session, incident_id: int) -> list[str]:
    """PagerDuty incidents behind a Warroom incident that are not resolved yet."""
    statement = select(Alert.pd_incident_id).where(
        Alert.incident_id == incident_id, Alert.status != "resolved"
    )
    return [pd for pd in session.exec(statement).all() if pd]
