"""PagerDuty webhook deliveries to alerts: store first, then de-duplicate, triage and link.

A delivery is stored under its unique `X-Webhook-Id` before the webhook is answered; processing
claims it with a compare-and-set, so a retry, a second worker or a restart handles it once.
Repeats of an alert are counted by the database itself (`count = count + n`), so concurrent
batches never lose one.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.alerts.events import read_event
from bot.alerts.links import link_pd_incident, linked
from bot.alerts.paging import PAGE_KEY_PREFIX
from bot.alerts.triage import Rules
from bot.alerts.updates import CHANGES, Processed, apply_change
from bot.incidents.errors import InvalidInput
from bot.incidents.rules import Declaration, Severity, Status, clean_title
from bot.incidents.service import declare_incident, get_incident, record_event
from bot.text import escape_mrkdwn
from storage.errors import insert_new, is_unique_violation
from storage.models import Alert, AlertEvent, Incident, PagerDutyLink, WebhookDelivery, table
from storage.types import UTCDateTime

BATCH = 200  # deliveries handled per transaction
Hits = dict[str, list[tuple[dict[str, Any], datetime]]]  # each alert's triggers: (data, occurred)


def store_deliveries(session: Session, deliveries: list[tuple[str, str]], at: datetime) -> list[bool]:
    """Keep many deliveries with one statement (a group commit); False for each one seen before.

    `INSERT … ON CONFLICT DO NOTHING RETURNING` lets the unique `X-Webhook-Id` decide, on SQLite
    and Postgres alike, without a savepoint per delivery.
    """
    deliveries_table = table(WebhookDelivery)
    statement = insert_new(session, deliveries_table, "delivery_id").returning(deliveries_table.c.delivery_id)
    rows = [{"delivery_id": d, "body": b, "received_at": at, "outcome": ""} for d, b in deliveries]
    fresh = set(session.execute(statement, rows).scalars())
    results = []
    for delivery_id, _ in deliveries:
        results.append(delivery_id in fresh)
        fresh.discard(delivery_id)  # the same id twice in one group: only the first is new
    return results


def process_batch(
    session: Session, rules: Rules, bot_user_id: str, at: datetime, limit: int = BATCH
) -> tuple[int, list[Processed]]:
    """Handle the oldest stored deliveries in one transaction: claim them, count repeats of each
    alert in one statement, then apply acknowledgements and resolutions in the order they happened.

    Returns how many deliveries this call claimed (0: none are left) and what Slack should show,
    each with the key that shows it once.
    """
    triggers: Hits = defaultdict(list)
    changes: list[tuple[dict[str, Any], str, dict[str, Any], datetime, int]] = []
    claimed = _claim(session, limit, at)
    for pk, body in claimed:
        try:
            event = read_event(body)
            kind, data = str(event.get("event_type", "")), event.get("data") or {}
            occurred = _time(event.get("occurred_at")) or at
            change = kind.removeprefix("incident.")
            if kind == "incident.triggered":
                if not _key(data):
                    raise InvalidInput("the event carries no incident id")
                if _key(data).startswith(PAGE_KEY_PREFIX):
                    _set_aside(session, pk, at, "Warroom's own page, already on its incident")
                    continue
                triggers[_key(data)].append((data, occurred))
            elif kind.startswith("incident.") and change in CHANGES:
                changes.append((data, change, event.get("agent") or {}, occurred, pk))
            else:
                _set_aside(session, pk, at, f"ignored {kind or 'unknown'} event")
        except (InvalidInput, ValueError, TypeError, AttributeError, KeyError) as exc:
            _set_aside(session, pk, at, f"could not be processed: {exc}")
    results = _record_triggers(session, triggers, rules, bot_user_id)
    for data, change, agent, occurred, pk in sorted(changes, key=lambda change: change[3]):
        result = apply_change(session, _key(data), data, change, agent, occurred)
        results.append(dataclasses.replace(result, key=f"delivery:{pk}:line"))
    return len(claimed), results


def has_pending(session: Session) -> bool:
    """Whether a stored delivery waits to be processed (one indexed lookup)."""
    deliveries = table(WebhookDelivery)
    waiting = select(deliveries.c.id).where(deliveries.c.processed_at.is_(None)).limit(1)
    return session.execute(waiting).first() is not None


def _claim(session: Session, limit: int, at: datetime) -> list[tuple[int, str]]:
    """Mark the oldest unhandled deliveries handled and take their bodies, in one statement;
    concurrent workers skip each other's rows (Postgres) or take turns (SQLite's one writer)."""
    deliveries = table(WebhookDelivery)
    oldest = (
        select(deliveries.c.id)
        .where(deliveries.c.processed_at.is_(None))
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(oldest.scalar_subquery()), deliveries.c.processed_at.is_(None))
        .values(processed_at=at, outcome="processed")
        .returning(deliveries.c.id, deliveries.c.body)
    )
    return sorted((int(pk), str(body)) for pk, body in session.execute(statement).all())


def _record_triggers(session: Session, triggers: Hits, rules: Rules, bot: str) -> list[Processed]:
    """Create the alerts not seen before, then count every hit, in a few statements per batch."""
    if not triggers:
        return []
    alerts = table(Alert)
    known = select(alerts.c.dedup_key, alerts.c.id).where(alerts.c.dedup_key.in_(list(triggers)))
    ids: dict[str, int] = {key: pk for key, pk in session.execute(known).all()}
    results, quiet = [], []
    for key, hits in triggers.items():
        if key in ids:
            continue
        alert, severity = _alert(key, *hits[0], rules)
        if alert.triage == "high":
            result = _open_incident(session, alert, severity, bot)
            if result is not None and result.alert is not None and result.alert.id is not None:
                ids[key] = result.alert.id
                results.append(result)
        else:
            quiet.append(alert)
    results += _insert_quiet(session, quiet, rules, ids)
    if missing := [key for key in triggers if key not in ids]:  # created by a concurrent batch
        ids.update(session.execute(known.where(alerts.c.dedup_key.in_(missing))).all())
    _count_hits(session, triggers, ids)
    return results + _join_open_rooms(session, triggers, ids)


def _insert_quiet(session: Session, quiet: list[Alert], rules: Rules, ids: dict[str, int]) -> list[Processed]:
    """Insert the new alerts that page nobody with one statement; notices for the low ones."""
    if not quiet:
        return []
    alerts = table(Alert)
    statement = insert_new(session, alerts, "dedup_key").returning(alerts.c.dedup_key, alerts.c.id)
    rows = [alert.model_dump(exclude={"id"}) for alert in quiet]
    inserted = {key: pk for key, pk in session.execute(statement, rows).all()}
    ids.update(inserted)
    notices = []
    for alert in quiet:
        channel = rules.notice_channel(alert.service_name) if alert.triage == "low" else None
        if alert.dedup_key in inserted and channel:
            text = (
                f":bell: Low-urgency alert on *{alert.service_name or 'an unknown service'}*: "
                f"{alert.title} (not paged by Warroom)"
            )
            notices.append(Processed(notice=(channel, text), key=f"alert:{inserted[alert.dedup_key]}:notice"))
    return notices


def _count_hits(session: Session, triggers: Hits, ids: dict[str, int]) -> None:
    """Add each alert's hits to its count (in the database, so concurrent batches both count)."""
    alerts = table(Alert)
    latest = bindparam("b_latest", type_=UTCDateTime())
    count = (
        update(alerts)
        .where(alerts.c.id == bindparam("b_id"))
        .values(
            count=alerts.c.count + bindparam("b_hits"),
            status="triggered",
            last_seen_at=case((alerts.c.last_seen_at < latest, latest), else_=alerts.c.last_seen_at),
        )
    )
    hits = [
        {"b_id": ids[key], "b_hits": len(seen), "b_latest": max(at for _, at in seen)}
        for key, seen in triggers.items()
    ]
    session.execute(count, hits)
    events = [
        {"alert_id": ids[key], "kind": "triggered", "at": at, "paged": data.get("urgency") == "high"}
        for key, seen in triggers.items()
        for data, at in seen
    ]
    session.execute(insert(table(AlertEvent)), events)


def _open_incident(session: Session, alert: Alert, severity: Severity, bot: str) -> Processed | None:
    """Store a high alert and open its incident; None if another worker stored it first."""
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
            return _declare(session, alert, severity, bot, alert.first_seen_at)
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


def _alert(key: str, data: dict[str, Any], at: datetime, rules: Rules) -> tuple[Alert, Severity]:
    """A new alert from its first trigger, triaged (count 0: every hit is counted afterwards),
    and the severity of the incident it opens if triaged high."""
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
    return alert, Severity(rule.severity if rule else 2)


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
    assert incident.id is not None
    alert.incident_id = incident.id
    link_pd_incident(session, incident.id, alert.raw, at=at, alert_id=alert.id)
    record_event(
        session,
        incident,
        "alert",
        at=at,
        text=f"PagerDuty alert: {alert.title}",
        data={"alert": alert.id, "service": alert.service_name, "pd_incident": alert.pd_incident_id},
    )
    return Processed(alert=alert, opened=incident if created else None)


def _join_open_rooms(session: Session, triggers: Hits, ids: dict[str, int]) -> list[Processed]:
    """A trigger of an alert whose war room is not closed is a new PagerDuty incident (PagerDuty
    reuses an `incident_key` once its incident is resolved): that room follows it too, so
    resolving the room resolves it, and the room hears of it once."""
    alerts, incidents = table(Alert), table(Incident)
    rooms = (
        select(alerts.c.dedup_key, alerts.c.incident_id)
        .join(incidents, incidents.c.id == alerts.c.incident_id)
        .where(alerts.c.id.in_([ids[key] for key in triggers]), incidents.c.closed_at.is_(None))
    )
    results = []
    for key, incident_id in session.execute(rooms).all():
        for data, at in triggers[key]:
            link = link_pd_incident(session, incident_id, data, at=at, alert_id=ids[key])
            if link is not None:
                results.append(_retriggered(session, link, at))
    return results


def _retriggered(session: Session, link: PagerDutyLink, at: datetime) -> Processed:
    incident = get_incident(session, link.incident_id)
    about = linked(session, link)
    if incident.status == Status.RESOLVED:
        then = f"{incident.ref} is resolved: if the problem is back, `/incident reopen`."
    else:
        then = f"Resolving {incident.ref} resolves it too."
    record_event(
        session,
        incident,
        "alert_retriggered",
        at=at,
        text=f"{about.name} triggered again: {about.about}",
        data={"alert": link.alert_id, "pd_incident": link.pd_incident_id, "url": about.url},
    )
    line = f"PagerDuty: {escape_mrkdwn(about.about)} triggered again as {about.mention()}. {then}"
    return Processed(linked=incident, line=line, key=f"link:{link.id}:joined")
