"""Alert webhook deliveries to alerts: store first, then de-duplicate, triage and link.

A delivery is stored under its unique id (PagerDuty's `X-Webhook-Id`, another source's body
digest) before the webhook is answered; every source's alerts are read into signals, keyed by
their de-duplication key (PagerDuty's `incident_key`, a fingerprint, the generic key); processing
claims it with a compare-and-set, so a retry, a second worker or a restart handles it once.
Repeats of an alert are counted by the database itself (`count = count + n`), so concurrent
batches never lose one.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.alerts.events import read_delivery
from bot.alerts.links import link_pd_incident, linked
from bot.alerts.overrides import count_applied, get_alert, with_overrides
from bot.alerts.paging import PAGE_KEY_PREFIX
from bot.alerts.sources import Signal, from_pagerduty, severity_level
from bot.alerts.triage import Rule, Rules
from bot.alerts.updates import (
    CHANGES,
    Fix,
    FixFinder,
    Notice,
    Processed,
    apply_change,
    resolve_signal,
    source_name,
)
from bot.incidents.errors import InvalidInput
from bot.incidents.rules import Declaration, Severity, Status, clean_title
from bot.incidents.service import declare_incident, get_incident, record_event
from bot.text import escape_mrkdwn
from storage.errors import insert_new, is_unique_violation
from storage.models import Alert, AlertEvent, Incident, PagerDutyLink, WebhookDelivery, table
from storage.types import UTCDateTime

BATCH = 200  # deliveries handled per transaction
Hits = dict[str, list[Signal]]  # each alert's hits in a batch


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
    session: Session,
    rules: Rules,
    bot_user_id: str,
    at: datetime,
    limit: int = BATCH,
    fixes: FixFinder | None = None,
) -> tuple[int, list[Processed]]:
    """Handle the oldest stored deliveries in one transaction: claim them, count repeats of each
    alert in one statement, then apply acknowledgements and resolutions in the order they happened.

    Returns how many deliveries this call claimed (0: none are left) and what Slack should show,
    each with the key that shows it once. `fixes` finds the automatic fix that fits an alert:
    a proven one turns a high alert into a quiet notice.
    """
    triggers: Hits = defaultdict(list)
    changes: list[tuple[dict[str, Any], str, dict[str, Any], datetime, int]] = []
    resolutions: list[Signal] = []
    claimed = _claim(session, limit, at)
    for pk, body in claimed:
        try:
            delivery = read_delivery(body)
            if isinstance(delivery, list):
                for signal in delivery:
                    (triggers[signal.key].append if signal.status == "firing" else resolutions.append)(signal)
                continue
            kind, data = str(delivery.get("event_type", "")), delivery.get("data") or {}
            occurred = _time(delivery.get("occurred_at")) or at
            change = kind.removeprefix("incident.")
            if kind == "incident.triggered":
                signal = from_pagerduty(data, occurred)
                if not signal.key:
                    raise InvalidInput("the event carries no incident id")
                if signal.key.startswith(PAGE_KEY_PREFIX):
                    _set_aside(session, pk, at, "Warroom's own page, already on its incident")
                    continue
                triggers[signal.key].append(signal)
            elif kind.startswith("incident.") and change in CHANGES:
                changes.append((data, change, delivery.get("agent") or {}, occurred, pk))
            else:
                _set_aside(session, pk, at, f"ignored {kind or 'unknown'} event")
        except (InvalidInput, ValueError, TypeError, AttributeError, KeyError) as exc:
            _set_aside(session, pk, at, f"could not be processed: {exc}")
    triage = Triage(with_overrides(session, rules, at), bot_user_id, fixes or _no_fix)
    results = _record_triggers(session, triggers, triage)
    moments = [(change[3], change) for change in changes] + [(signal.at, signal) for signal in resolutions]
    for _, happened in sorted(moments, key=lambda moment: moment[0]):
        if isinstance(happened, Signal):
            results.append(resolve_signal(session, happened))
            continue
        data, change, agent, occurred, pk = happened
        result = apply_change(session, _key(data), data, change, agent, occurred)
        results.append(dataclasses.replace(result, key=f"delivery:{pk}:line"))
    return len(claimed), results


def declare_for_alert(session: Session, alert_id: int, *, by: str, at: datetime) -> tuple[Incident, bool]:
    """An incident someone declared from an alert's notice, with them as its commander; the
    alert's open incident instead if it has one. Whether this call created it."""
    alert = get_alert(session, alert_id)
    current = session.get(Incident, alert.incident_id) if alert.incident_id else None
    if current is not None and current.closed_at is None:
        return current, False
    result = _declare(
        session, alert, Severity(severity_level(alert.severity) or 2), by, at, episode="declared"
    )
    return session.get_one(Incident, alert.incident_id), result.opened is not None


def escalate_alert(
    session: Session, alert_id: int, rules: Rules, *, why: str, bot: str, at: datetime, episode: str
) -> tuple[Incident, Processed]:
    """An alert whose automatic fix failed is high at once: it opens an incident (paging as its
    rule says), or joins its group's; one it already has stays. The same `episode` opens one."""
    alert = get_alert(session, alert_id)
    current = session.get(Incident, alert.incident_id) if alert.incident_id else None
    if current is not None and current.closed_at is None:
        return current, Processed(alert=alert)
    alert.triage = "high"
    rule = next((rule for rule in rules.rules if rule.name == alert.rule), None)
    if (incident := _group_incident(session, alert)) is not None:
        result = _join_group(session, alert, incident)
    else:
        severity = Severity((rule.severity if rule else None) or severity_level(alert.severity) or 2)
        result = _paging(_declare(session, alert, severity, bot, at, episode=episode), rule)
    incident = session.get_one(Incident, alert.incident_id)
    record_event(session, incident, "alert_escalated", at=at, text=why, data={"alert": alert_id})
    return incident, result


def alerts_of(session: Session, incident_id: int) -> list[Alert]:
    """The alerts that opened or joined an incident, oldest first."""
    statement = select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)  # type: ignore[arg-type]
    return list(session.exec(statement))


def room_text(alert: Alert) -> str:
    """An alert as its war room shows it (mrkdwn, escaped, with its links)."""
    text = f":rotating_light: {source_name(alert.source)} alert: {escape_mrkdwn(alert.title)}"
    return text + _links(alert)


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


@dataclass(frozen=True)
class Triage:
    """What a batch triages new alerts with."""

    rules: Rules
    bot: str  # Warroom's own user, who declares the incidents alerts open
    fixes: FixFinder

    def route(self, session: Session, alert: Alert, rule: Rule | None) -> Fix | None:
        """The automatic fix for `alert`, if one fits (none for an alert to ignore); a proven
        one makes a high alert with a notice channel a quiet (low) notice."""
        if alert.triage == "ignore":
            return None
        fix = self.fixes(session, alert)
        channel = self.rules.notice_channel("low", alert.service_name, rule)
        if fix is not None and fix.proven and alert.triage == "high" and channel:
            alert.triage = "low"
        return fix


def _no_fix(session: Session, alert: Alert) -> Fix | None:
    return None


def _record_triggers(session: Session, triggers: Hits, triage: Triage) -> list[Processed]:
    """Create the alerts not seen before, triage again the ones firing anew, then count every
    new hit, in a few statements per batch."""
    rules, bot = triage.rules, triage.bot
    if not triggers:
        return []
    alerts = table(Alert)
    known = select(alerts.c.dedup_key, alerts.c.id, alerts.c.last_seen_at, alerts.c.status)
    seen = {
        key: (pk, last, status)
        for key, pk, last, status in session.execute(known.where(alerts.c.dedup_key.in_(list(triggers))))
    }
    triggers = _new_firings(triggers, {key: last for key, (_, last, _) in seen.items()})
    ids = {key: pk for key, (pk, _, _) in seen.items()}
    triaged: dict[str, str] = {}
    results, quiet = [], []
    for key, hits in triggers.items():
        if key in ids:
            continue
        alert, severity, rule = _alert(hits[0], rules)
        fix = triage.route(session, alert, rule)
        triaged[key] = alert.triage
        if alert.triage == "high":
            result = _open_incident(session, alert, severity, bot)
            if result is not None and result.alert is not None and result.alert.id is not None:
                ids[key] = result.alert.id
                results.append(_paging(result, rule))
        else:
            quiet.append((alert, rule, fix))
    results += _insert_quiet(session, quiet, rules, ids)
    if missing := [key for key in triggers if key not in ids]:  # created by a concurrent batch
        found = select(alerts.c.dedup_key, alerts.c.id).where(alerts.c.dedup_key.in_(missing))
        ids.update(session.execute(found).all())
    decided = Counter(alert.rule for alert, _, _ in quiet)
    decided += Counter(result.alert.rule for result in results if result.alert is not None)
    again = {key: hits for key, hits in triggers.items() if key in seen or hits[0].source == "pagerduty"}
    rooms, followed = _join_open_rooms(session, again, ids)
    anew = {
        key: hits
        for key, hits in again.items()
        if key in seen and key not in followed and _new_episode(hits[0], seen[key][2])
    }
    results += rooms + _triage_again(session, anew, triage, ids, triaged)
    decided += Counter(session.get_one(Alert, ids[key]).rule for key in anew)
    count_applied(session, decided)
    _count_hits(session, triggers, ids, triaged)
    return results


def _new_episode(hit: Signal, status: str) -> bool:
    """Whether a new hit of a known alert starts it over (to be triaged again): after it
    resolved, or for Alertmanager and Grafana a later start (they change it only once the alert
    ended, even when its resolution was not sent). PagerDuty's repeats and a generic sender's
    reminders of an alert still firing only count."""
    if hit.source == "pagerduty":
        return False
    return status == "resolved" or hit.source in ("alertmanager", "grafana")


def _triage_again(
    session: Session, anew: Hits, triage: Triage, ids: dict[str, int], triaged: dict[str, str]
) -> list[Processed]:
    """An alert firing anew with no open war room is triaged again by the rules as they are now
    (a rule made from Slack since may have changed it): high opens a new incident (or joins its
    group's), low and info post a new notice."""
    results = []
    for key, hits in anew.items():
        hit = hits[-1]
        alert = session.get_one(Alert, ids[key])
        decision, rule = triage.rules.decide(hit)
        alert.triage, alert.rule = decision, rule.name if rule else "default"
        fix = triage.route(session, alert, rule)
        triaged[key] = alert.triage
        episode = f"{hit.at.timestamp():.0f}"
        if alert.triage == "high" and (incident := _group_incident(session, alert)) is not None:
            results.append(_join_group(session, alert, incident))
        elif alert.triage == "high":
            declared = _declare(session, alert, _severity(hit, rule), triage.bot, hit.at, episode=episode)
            results.append(_paging(declared, rule))
        elif notice := _notice(alert, triage.rules, rule, key=f"alert:{ids[key]}:notice:{episode}", fix=fix):
            results.append(notice)
    return results


def _new_firings(triggers: Hits, last_seen: dict[str, datetime]) -> Hits:
    """The hits that are news. PagerDuty sends each trigger once; Alertmanager and Grafana send
    the same firing (one start time) again with each notification of its group, so only a later
    start than the alert's last is a new hit."""
    fresh: Hits = {}
    for key, hits in triggers.items():
        if hits[0].source == "pagerduty":
            fresh[key] = hits
            continue
        latest, starts = last_seen.get(key), {hit.at: hit for hit in hits}
        if new := [starts[moment] for moment in sorted(starts) if latest is None or moment > latest]:
            fresh[key] = new
    return fresh


def _insert_quiet(
    session: Session, quiet: list[tuple[Alert, Rule | None, Fix | None]], rules: Rules, ids: dict[str, int]
) -> list[Processed]:
    """Insert the new alerts that open no incident with one statement; notices for low and info."""
    if not quiet:
        return []
    alerts = table(Alert)
    statement = insert_new(session, alerts, "dedup_key").returning(alerts.c.dedup_key, alerts.c.id)
    rows = [alert.model_dump(exclude={"id"}) for alert, _, _ in quiet]
    inserted = {key: pk for key, pk in session.execute(statement, rows).all()}
    ids.update(inserted)
    notices = []
    for alert, rule, fix in quiet:
        if alert.dedup_key in inserted:
            alert.id = inserted[alert.dedup_key]
            if notice := _notice(alert, rules, rule, key=f"alert:{alert.id}:notice", fix=fix):
                notices.append(notice)
    return notices


def _notice(
    alert: Alert, rules: Rules, rule: Rule | None, *, key: str, fix: Fix | None = None
) -> Processed | None:
    """What a low or info alert posts, and where (None: ignored, or no channel for it). With a
    proven automatic fix it mentions nobody; one on trial still calls whoever watches."""
    if alert.triage not in ("low", "info"):
        return None
    channel = rules.notice_channel("info" if alert.triage == "info" else "low", alert.service_name, rule)
    if not channel or alert.id is None:
        return None
    quiet = fix is not None and fix.proven
    text = notice_text(alert, rule.mention if rule and alert.triage == "low" and not quiet else None)
    if fix is not None:
        text += "\n" + fix.line()
    return Processed(notice=Notice(channel, text, alert.id, alert.triage == "low", fix), key=key)


def notice_text(alert: Alert, mention: str | None, *, info: bool | None = None) -> str:
    """A low or info alert's notice (mrkdwn, its text escaped); `info` as the alert was triaged
    when its notice was posted (it may be high since)."""
    service = escape_mrkdwn(alert.service_name or "an unknown service")
    what = f"{source_name(alert.source)} alert on *{service}*: {escape_mrkdwn(alert.title)}"
    text = (
        f":information_source: {what}"
        if (alert.triage == "info" if info is None else info)
        else f":bell: Low-urgency {what} (not paged by Warroom)"
    )
    text += _links(alert)
    if mention:
        text = f"{'<!subteam^' + mention + '>' if mention.startswith('S') else '<@' + mention + '>'} {text}"
    return text


def _links(alert: Alert) -> str:
    links = [f"<{link['url']}|{escape_mrkdwn(link['text'])}>" for link in alert.raw.get("_links", [])]
    return "".join(f" · {link}" for link in links)


def _count_hits(session: Session, triggers: Hits, ids: dict[str, int], triaged: dict[str, str]) -> None:
    """Add each alert's hits to its count (in the database, so concurrent batches both count)."""
    if not triggers:
        return
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
        {"b_id": ids[key], "b_hits": len(seen), "b_latest": max(hit.at for hit in seen)}
        for key, seen in triggers.items()
    ]
    session.execute(count, hits)
    events = [
        {"alert_id": ids[key], "kind": "triggered", "at": hit.at, "paged": _paged(hit, triaged.get(key, ""))}
        for key, seen in triggers.items()
        for hit in seen
    ]
    session.execute(insert(table(AlertEvent)), events)


def _paged(hit: Signal, triage: str) -> bool:
    """Whether a hit woke someone: PagerDuty's high urgency, or another source's alert that
    opens an incident."""
    return hit.urgency == "high" if hit.source == "pagerduty" else triage == "high"


def _open_incident(session: Session, alert: Alert, severity: Severity, bot: str) -> Processed | None:
    """Store a high alert and open its incident, or have it join the open incident of its group
    (Alertmanager and Grafana group alerts that are one problem); None if another worker stored
    it first."""
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
            if (incident := _group_incident(session, alert)) is not None:
                return _join_group(session, alert, incident)
            return _declare(session, alert, severity, bot, alert.first_seen_at)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return None


def _paging(result: Processed, rule: Rule | None) -> Processed:
    """A newly opened incident pages the PagerDuty service its rule names."""
    if result.opened is None or rule is None or rule.page is None:
        return result
    return dataclasses.replace(result, page=rule.page)


def _group_incident(session: Session, alert: Alert) -> Incident | None:
    """The open incident another alert of the same notification group opened or joined."""
    if not alert.group_key:
        return None
    statement = (
        select(Incident)
        .join(Alert, Alert.incident_id == Incident.id)  # type: ignore[arg-type]
        .where(
            Alert.source == alert.source,
            Alert.group_key == alert.group_key,
            Alert.id != alert.id,
            col(Incident.closed_at).is_(None),
        )
        .limit(1)
    )
    return session.exec(statement).first()


def _join_group(session: Session, alert: Alert, incident: Incident) -> Processed:
    assert incident.id is not None and alert.id is not None
    alert.incident_id = incident.id
    text = f"{source_name(alert.source)} alert of the same group: {alert.title}"
    record_event(session, incident, "alert", at=alert.first_seen_at, text=text, data={"alert": alert.id})
    line = f":rotating_light: {escape_mrkdwn(text)}{_links(alert)}"
    return Processed(alert=alert, linked=incident, line=line, key=f"alert:{alert.id}:joined")


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


def _alert(signal: Signal, rules: Rules) -> tuple[Alert, Severity, Rule | None]:
    """A new alert from its first hit, triaged (count 0: every hit is counted afterwards), the
    severity of the incident it opens if triaged high, and the rule that decided."""
    decision, rule = rules.decide(signal)
    raw, from_pd = signal.raw, signal.source == "pagerduty"
    alert = Alert(
        dedup_key=signal.key,
        source=signal.source,
        name=signal.name,
        severity=signal.severity,
        labels=signal.labels,
        group_key="" if from_pd else str(raw.get("groupKey") or "")[:255],
        pd_incident_id=str(raw.get("id") or "")[:64] if from_pd else "",
        service_id=str((raw.get("service") or {}).get("id") or "") if from_pd else "",
        service_name=signal.service,
        title=signal.title,
        urgency=signal.urgency,
        priority=signal.severity if from_pd else "",
        triage=decision,
        rule=rule.name if rule else "default",
        count=0,
        first_seen_at=signal.at,
        last_seen_at=signal.at,
        raw=raw if from_pd else raw | {"_links": [link.model_dump() for link in signal.links]},
    )
    return alert, _severity(signal, rule), rule


def _severity(signal: Signal, rule: Rule | None) -> Severity:
    """The rule's severity, else the alert's own, else sev2."""
    return Severity((rule.severity if rule else None) or signal.severity_level() or 2)


def _declare(
    session: Session, alert: Alert, severity: Severity, bot: str, at: datetime, *, episode: str = ""
) -> Processed:
    """Open the alert's incident (a new one for each `episode` of an alert firing anew)."""
    source = source_name(alert.source)
    try:
        title = clean_title(alert.title[:120])
    except InvalidInput:
        title = f"Alert on {alert.service_name or source}"
    declaration = Declaration(
        title=title,
        severity=severity,
        summary=f"Opened from {source} alert on {alert.service_name}: {alert.title}"[:2000],
    )
    key = f"alert:{alert.dedup_key}" + (f":{episode}" if episode else "")
    incident, created = declare_incident(session, declaration, by=bot, at=at, key=key[:255])
    assert incident.id is not None
    alert.incident_id = incident.id
    if alert.source == "pagerduty":
        link_pd_incident(session, incident.id, alert.raw, at=at, alert_id=alert.id)
    record_event(
        session,
        incident,
        "alert",
        at=at,
        text=f"{source} alert: {alert.title}",
        data={
            "alert": alert.id,
            "source": alert.source,
            "service": alert.service_name,
            "pd_incident": alert.pd_incident_id,
            "links": alert.raw.get("_links", []),
        },
    )
    return Processed(alert=alert, opened=incident if created else None)


def _join_open_rooms(
    session: Session, triggers: Hits, ids: dict[str, int]
) -> tuple[list[Processed], set[str]]:
    """A new hit of an alert whose war room is not closed is told there once. From PagerDuty it
    is a new PagerDuty incident (PagerDuty reuses an `incident_key` once its incident is
    resolved): the room follows it too, so resolving the room resolves it."""
    alerts, incidents = table(Alert), table(Incident)
    rooms = (
        select(alerts.c.dedup_key, alerts.c.incident_id)
        .join(incidents, incidents.c.id == alerts.c.incident_id)
        .where(alerts.c.id.in_([ids[key] for key in triggers]), incidents.c.closed_at.is_(None))
    )
    results, followed = [], set()
    for key, incident_id in session.execute(rooms).all():
        followed.add(key)
        for hit in triggers[key]:
            if hit.source != "pagerduty":
                results.append(_fired_again(session, incident_id, ids[key], hit))
            elif (
                link := link_pd_incident(session, incident_id, hit.raw, at=hit.at, alert_id=ids[key])
            ) is not None:
                results.append(_retriggered(session, link, hit.at))
    return results, followed


def _fired_again(session: Session, incident_id: int, alert_id: int, hit: Signal) -> Processed:
    incident = get_incident(session, incident_id)
    what = f"{source_name(hit.source)}: {hit.title} is firing again"
    record_event(session, incident, "alert_retriggered", at=hit.at, text=what, data={"alert": alert_id})
    return Processed(
        linked=incident,
        line=f":rotating_light: {escape_mrkdwn(what)}",
        key=f"alert:{alert_id}:fired:{hit.at.timestamp():.0f}",
    )


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
    return Processed(linked=incident, line=f":pager: {line}", key=f"link:{link.id}:joined")
