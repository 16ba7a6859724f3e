"""PagerDuty webhook deliveries to alerts: store first, then de-duplicate, triage and link.

A delivery is stored under its unique `X-Webhook-Id` before the webhook is answered; processing
claims it with a compare-and-set, so a retry, a second worker or a restart handles it once.
Repeats of an alert are counted by the database itself (`count = count + n`), so concurrent
batches never lose one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.alerts.triage import Rules
from bot.incidents.errors import InvalidInput
from bot.incidents.rules import Declaration, Severity, clean_title
from bot.incidents.service import declare_incident, get_incident, record_event
from storage.errors import is_unique_violation
from storage.models import Alert, AlertEvent, Incident, Page, WebhookDelivery, table

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


def store_deliveries(session: Session, deliveries: list[tuple[str, str]], at: datetime) -> list[bool]:
    """Keep many deliveries in one transaction (a group commit); False for each one seen before."""
    return [store_delivery(session, delivery_id, body, at) for delivery_id, body in deliveries]


def unprocessed(session: Session, limit: int = 200) -> list[int]:
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
    """Handle stored deliveries in one transaction: claim them, count repeats of each alert in
    one statement, then apply acknowledgements and resolutions in the order they happened."""
    triggers: dict[str, list[tuple[dict[str, Any], datetime]]] = defaultdict(list)
    changes: list[tuple[dict[str, Any], str, dict[str, Any], datetime]] = []
    for pk, body in _claim(session, delivery_pks, at):
        try:
            event = json.loads(body)["event"]
            kind, data = str(event.get("event_type", "")), event.get("data") or {}
            occurred = _time(event.get("occurred_at")) or at
            if kind in ("incident.triggered", "incident.reopened"):
                if not _key(data):
                    raise InvalidInput("the event carries no incident id")
                triggers[_key(data)].append((data, occurred))
            elif kind in HANDLED:
                changes.append((data, kind.removeprefix("incident."), event.get("agent") or {}, occurred))
            else:
                _set_aside(session, pk, at, f"ignored {kind or 'unknown'} event")
        except (InvalidInput, ValueError, TypeError, AttributeError, KeyError) as exc:
            _set_aside(session, pk, at, f"could not be processed: {exc}")
    results = _record_triggers(session, triggers, rules, bot_user_id)
    for data, status, agent, occurred in sorted(changes, key=lambda change: change[3]):
        results.append(_changed(session, data, status, agent, occurred))
    return results


def _claim(session: Session, pks: list[int], at: datetime) -> list[tuple[int, str]]:
    """Mark deliveries handled and take their bodies; a delivery another worker took is skipped."""
    deliveries = table(WebhookDelivery)
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(pks), deliveries.c.processed_at.is_(None))
        .values(processed_at=at, outcome="processed")
        .returning(deliveries.c.id, deliveries.c.body)
    )
    return [(int(pk), str(body)) for pk, body in session.execute(statement).all()]


def _record_triggers(
    session: Session, triggers: dict[str, list[tuple[dict[str, Any], datetime]]], rules: Rules, bot: str
) -> list[Processed]:
    if not triggers:
        return []
    existing = {
        a.dedup_key: a for a in session.exec(select(Alert).where(col(Alert.dedup_key).in_(list(triggers))))
    }
    results, events = [], []
    alerts = table(Alert)
    for key, hits in triggers.items():
        alert = existing.get(key)
        if alert is None:
            result = _new_alert(session, key, hits[0], rules, bot)
            alert = (
                result.alert if result else session.exec(select(Alert).where(Alert.dedup_key == key)).one()
            )
            if result is not None:
                results.append(result)
        assert alert is not None and alert.id is not None
        latest = max(occurred for _, occurred in hits)
        session.execute(
            update(alerts)
            .where(alerts.c.id == alert.id)
            .values(
                count=alerts.c.count + len(hits),
                status="triggered",
                last_seen_at=case((alerts.c.last_seen_at < latest, latest), else_=alerts.c.last_seen_at),
            )
        )
        events += [
            {
                "alert_id": alert.id,
                "kind": "triggered",
                "at": occurred,
                "paged": data.get("urgency") == "high",
            }
            for data, occurred in hits
        ]
    session.execute(insert(table(AlertEvent)), events)
    return results


def _new_alert(
    session: Session, key: str, first: tuple[dict[str, Any], datetime], rules: Rules, bot: str
) -> Processed | None:
    """Create the alert (count 0: the caller counts every hit) and triage it; None if another
    worker created it first."""
    try:
        with session.begin_nested():
            return _triggered(session, key, *first, rules, bot)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return None


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


def _triggered(
    session: Session, key: str, data: dict[str, Any], at: datetime, rules: Rules, bot: str
) -> Processed:
    service = data.get("service") or {}
    urgency, priority = str(data.get("urgency") or ""), str((data.get("priority") or {}).get("summary") or "")
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
        count=0,
        first_seen_at=at,
        last_seen_at=at,
        raw=data,
    )
    session.add(alert)
    session.flush()
    if decision == "high":
        return _declare(session, alert, Severity(rule.severity if rule else 2), bot, at)
    if decision == "low" and (channel := rules.notice_channel(name)):
        text = f":bell: Low-urgency alert on *{name or 'an unknown service'}*: {title} (not paged by Warroom)"
        return Processed(alert=alert, notice=(channel, text))
    return Processed(alert=alert)


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
    """PagerDuty incidents behind a Warroom incident (its alerts not yet resolved, its pages)."""
    alerts = select(Alert.pd_incident_id).where(Alert.incident_id == incident_id, Alert.status != "resolved")
    pages = select(Page.pd_incident_id).where(Page.incident_id == incident_id)
    found = [*session.exec(alerts).all(), *session.exec(pages).all()]
    return sorted({pd for pd in found if pd})
