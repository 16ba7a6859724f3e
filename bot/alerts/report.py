"""The alert report, for every source: what paged, how often, how fast it was acknowledged, what
was noise, what was fixed automatically, and what to do about the worst (remove, downgrade,
automate, fix for good), in all and week by week (Monday 00:00 UTC). Night pages are counted in
the on-call's zone, not UTC."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import clock
from bot.alerts.updates import source_name
from bot.text import plural
from storage.models import Alert, AlertEvent, RemediationRun, TriageOverride

FLAP_WINDOW = timedelta(hours=1)
NIGHT_HOURS = range(0, 7)  # 00:00-06:59 in the on-call's zone, plus 22:00 and 23:00
PERMANENT_FIX_AT = 3  # incidents from one alert in a window: first aid is not enough
AUTOMATE_AT = 5  # acknowledged by hand this often: a runbook action could do it
PROVEN_AT = 5  # successful automatic runs without a failure before a fix runs unwatched
TOP = 5
COLUMNS = (
    "source",
    "service",
    "alert",
    "count",
    "pages",
    "noise",
    "TTA median",
    "TTA p90",
    "incidents",
    "fixed automatically",
    "ignored",
    "low",
    "flapping",
    "night pages",
)


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _is_night(at: datetime, zone: ZoneInfo) -> bool:
    local = at.astimezone(zone)
    return local.hour in NIGHT_HOURS or local.hour >= 22


def _acted_on(alert: Alert) -> bool:
    """Someone acknowledged it, or it became an incident: the alerts that are not noise."""
    return alert.incident_id is not None or alert.acknowledged_at is not None


def _noise_share(alerts: list[Alert]) -> float:
    return round(1 - sum(1 for a in alerts if _acted_on(a)) / len(alerts), 2) if alerts else 0.0


def _row(alerts: list[Alert], events: list[AlertEvent], fixed: set[int], zone: ZoneInfo) -> dict[str, Any]:
    triggers = [e for e in events if e.kind == "triggered"]
    resolves = sorted(e.at for e in events if e.kind == "resolved")
    flaps = sum(1 for t in triggers if any(timedelta(0) < t.at - r <= FLAP_WINDOW for r in resolves))
    acks = [(a.acknowledged_at - a.first_seen_at).total_seconds() for a in alerts if a.acknowledged_at]
    first = alerts[0]
    return {
        "source": first.source,
        "service": first.service_name,
        "title": first.name or first.title,
        "count": len(triggers),
        "pages": sum(1 for t in triggers if t.paged),
        "noise_share": _noise_share(alerts),
        "tta_median_s": statistics.median(acks) if acks else None,
        "tta_p90_s": _percentile(acks, 90),
        "acknowledged": len(acks),
        "incidents": sum(1 for a in alerts if a.incident_id is not None),
        "fixed_automatically": sum(1 for a in alerts if a.id in fixed),
        "ignored": sum(1 for a in alerts if a.triage == "ignore"),
        "low": sum(1 for a in alerts if a.triage in ("low", "info")),
        "flapping": flaps,
        "night_pages": sum(1 for t in triggers if t.paged and _is_night(t.at, zone)),
    }


def _advice(row: dict[str, Any]) -> str | None:
    if row["incidents"] >= PERMANENT_FIX_AT:
        fixed = row["fixed_automatically"]
        first_aid = f", {fixed} fixed automatically" if fixed else ""
        return f"opened {row['incidents']} incidents{first_aid}: needs a permanent fix"
    if row["incidents"]:
        return None
    if row["flapping"]:
        return "flaps: add hysteresis or a longer evaluation window"
    if row["pages"] and row["tta_median_s"] is None:
        return "pages but nobody acknowledges it: remove it or route it elsewhere"
    if row["pages"]:
        return "pages but never became an incident: downgrade to low urgency"
    if row["acknowledged"] >= AUTOMATE_AT:
        return f"acknowledged by hand {row['acknowledged']} times: automate the fix with a runbook action"
    if row["count"] and row["ignored"] + row["low"]:
        return "never acted on: consider removing it"
    return None


def alert_report(session: Session, since: datetime, now: datetime, zone: str = "UTC") -> dict[str, Any]:
    """Figures per source, service and alert for the window, the top recommendations, and the
    triage rules made from Slack that were active in it."""
    statement = (
        select(AlertEvent, Alert)
        .join(Alert, col(Alert.id) == col(AlertEvent.alert_id))
        .where(col(AlertEvent.at) >= since, col(AlertEvent.at) <= now)
    )
    found = session.exec(statement).all()
    events: dict[tuple[str, str, str], list[AlertEvent]] = defaultdict(list)
    alerts: dict[tuple[str, str, str], dict[int, Alert]] = defaultdict(dict)
    for event, alert in found:
        group = (alert.source, alert.service_name, alert.name or alert.title)
        events[group].append(event)
        assert alert.id is not None
        alerts[group][alert.id] = alert
    fixed = _fixed_automatically(session, since, now)
    on_call = ZoneInfo(zone)
    rows = sorted(
        (_row(list(alerts[g].values()), events[g], fixed, on_call) for g in events),
        key=lambda r: (-r["pages"], -r["count"]),
    )
    candidates = [{**row, "advice": advice} for row in rows if (advice := _advice(row))][:TOP]
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "zone": zone,
        "alerts": rows,
        "weeks": _weeks(found, since, now, on_call),
        "candidates": candidates,
        "slack_rules": _slack_rules(session, since, now),
        "automatic": _automatic(session, since, now),
    }


def _weeks(
    found: Sequence[tuple[AlertEvent, Alert]], since: datetime, now: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Per week: the alerts seen (any event), pages per service (every service that paged in the
    window, most pages first), the noise share of that week's alerts as the rows count it, and
    the night pages."""
    starts = clock.weeks(since, now + timedelta.resolution)  # the window includes `now`
    seen: dict[datetime, dict[int, Alert]] = {start: {} for start in starts}
    pages: dict[datetime, Counter[str]] = {start: Counter() for start in starts}
    night: Counter[datetime] = Counter()
    for event, alert in found:
        week = clock.week_of(event.at)
        assert alert.id is not None
        seen[week][alert.id] = alert
        if event.kind == "triggered" and event.paged:
            pages[week][alert.service_name] += 1
            night[week] += 1 if _is_night(event.at, zone) else 0
    paging = sorted(sum(pages.values(), Counter[str]()).items(), key=lambda pair: (-pair[1], pair[0]))
    return [
        {
            "week": start.date().isoformat(),
            "alerts": len(seen[start]),
            "pages": pages[start].total(),
            "pages_by_service": {service: pages[start][service] for service, _ in paging},
            "noise_share": _noise_share(list(seen[start].values())) if seen[start] else None,
            "night_pages": night[start],
        }
        for start in starts
    ]


def _fixed_automatically(session: Session, since: datetime, now: datetime) -> set[int]:
    """Alerts an automatic run fixed in the window: on the alert itself, or in its incident."""
    statement = select(RemediationRun.alert_id, RemediationRun.incident_id).where(
        col(RemediationRun.automatic).is_(True),
        RemediationRun.state == "succeeded",
        col(RemediationRun.requested_at) >= since,
        col(RemediationRun.requested_at) <= now,
    )
    fixed, incidents = set(), set()
    for alert_id, incident_id in session.exec(statement):
        if alert_id is not None:
            fixed.add(alert_id)
        if incident_id is not None:
            incidents.add(incident_id)
    if incidents:
        fixed.update(session.execute(select(Alert.id).where(col(Alert.incident_id).in_(incidents))).scalars())
    return {alert_id for alert_id in fixed if alert_id is not None}


def _automatic(session: Session, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """Each automatic fix's track record in the window: runs, successes, time from the alert to
    the fix, notices saved (runs on a proven fix that called nobody), and whether to promote
    (its alerts go quiet), keep it on trial, or demote it."""
    statement = select(RemediationRun).where(
        col(RemediationRun.automatic).is_(True),
        col(RemediationRun.requested_at) >= since,
        col(RemediationRun.requested_at) <= now,
    )
    runs: dict[tuple[str, str], list[RemediationRun]] = defaultdict(list)
    for run in session.exec(statement):
        runs[(run.playbook_id, run.action_id)].append(run)
    every = [run for group in runs.values() for run in group]
    incidents = [run.incident_id for run in every if run.incident_id is not None]
    alerts = [run.alert_id for run in every if run.alert_id is not None]
    opened = select(Alert.id, Alert.incident_id, Alert.first_seen_at).where(
        col(Alert.incident_id).in_(incidents) | col(Alert.id).in_(alerts)
    )
    first_seen: dict[tuple[str, int | None], datetime] = {}
    for alert_id, incident_id, seen in session.exec(opened):
        first_seen[("alert", alert_id)] = seen
        first_seen.setdefault(("incident", incident_id), seen)
    records = []
    for (playbook, action), group in sorted(runs.items()):
        succeeded = [r for r in group if r.state == "succeeded"]
        failed = [r for r in group if r.state in ("failed", "timed_out", "unknown")]
        recover = [
            (r.finished_at - fired).total_seconds()
            for r in succeeded
            if r.finished_at and (fired := first_seen.get(_fixed_what(r)))
        ]
        records.append(
            {
                "action": f"{playbook}/{action}",
                "label": group[0].label,
                "runs": len(group),
                "succeeded": len(succeeded),
                "failed": len(failed),
                "recover_median_s": statistics.median(recover) if recover else None,
                "notices_saved": sum(1 for r in succeeded if r.alert_id is not None and not r.trial),
                "advice": _fix_advice(len(succeeded), len(failed)),
            }
        )
    return records


def _fixed_what(run: RemediationRun) -> tuple[str, int | None]:
    return ("alert", run.alert_id) if run.alert_id is not None else ("incident", run.incident_id)


def _fix_advice(succeeded: int, failed: int) -> str:
    if failed and failed * 5 >= succeeded + failed:
        return "demote: it fails too often to run unwatched; back to suggest mode"
    if succeeded >= PROVEN_AT and not failed:
        return "promote: proven; its alerts are quiet notices now (still fix the cause for good)"
    return "keep on trial: people still watch each run"


def _slack_rules(session: Session, since: datetime, now: datetime) -> list[dict[str, Any]]:
    statement = (
        select(TriageOverride)
        .where(col(TriageOverride.created_at) <= now, col(TriageOverride.expires_at) >= since)
        .order_by(col(TriageOverride.id))
    )
    return [
        {
            "id": rule.id,
            "action": rule.action,
            "about": rule.about,
            "channel": rule.channel,
            "by": rule.created_by,
            "reason": rule.reason,
            "until": rule.expires_at.isoformat(),
            "reverted": rule.reverted_at.isoformat() if rule.reverted_at else None,
            "decided": rule.applied,
        }
        for rule in session.exec(statement)
    ]


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value / 60:.1f} min"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def report_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table, the recommendations and the rules made from Slack."""
    lines = [
        f"# Alert noise report, {report['since'][:10]} to {report['until'][:10]}",
        "",
        f"Night pages are those between 22:00 and 07:00 {report.get('zone', 'UTC')}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in report["alerts"]:
        lines.append(
            f"| {source_name(row['source'])} | {_cell(row['service'])} | {_cell(row['title'])} | "
            f"{row['count']} | {row['pages']} | {row['noise_share']:.0%} | {_seconds(row['tta_median_s'])} | "
            f"{_seconds(row['tta_p90_s'])} | {row['incidents']} | {row['fixed_automatically']} | "
            f"{row['ignored']} | {row['low']} | {row['flapping']} | {row['night_pages']} |"
        )
    if not report["alerts"]:
        lines.append("| — | — | no alerts in this window |" + " |" * (len(COLUMNS) - 3))
    lines += ["", "## Recommendations", ""]
    lines += [
        f"- **{_cell(c['service'])}: {_cell(c['title'])}** ({plural(c['count'], 'alert')}, "
        f"{plural(c['pages'], 'page')}): {c['advice']}"
        for c in report["candidates"]
    ] or ["- none: every alert that paged led to an incident"]
    if report.get("automatic"):
        lines += ["", "## Automatic fixes", ""]
        lines += [
            f"- **{fix['label']}** (`{fix['action']}`): {plural(fix['runs'], 'run')}, "
            f"{fix['succeeded']} succeeded, {fix['failed']} failed, time from alert to fix "
            f"{_seconds(fix['recover_median_s'])} (median), {plural(fix['notices_saved'], 'notice')} "
            f"saved: {fix['advice']}"
            for fix in report["automatic"]
        ]
    if report.get("slack_rules"):
        lines += ["", "## Triage rules made from Slack", ""]
        lines += [
            f"- #{rule['id']} {rule['about']}: {rule['action']}"
            + (f" to {rule['channel']}" if rule["channel"] else "")
            + f" by {rule['by']} until {rule['until'][:16]} ({rule['reason']}; decided {rule['decided']})"
            + (" — reverted" if rule["reverted"] else "")
            for rule in report["slack_rules"]
        ]
    return "\n".join(lines + _weeks_markdown(report["weeks"])) + "\n"


def _weeks_markdown(weeks: list[dict[str, Any]]) -> list[str]:
    """One line per week: alerts, pages, night pages, noise, and the service that paged most."""
    lines = ["", "## By week (from Monday, UTC)", ""]
    lines += ["| week | alerts | pages | night pages | noise | most pages |", "|---|---|---|---|---|---|"]
    for week in weeks:
        noise = "—" if week["noise_share"] is None else f"{week['noise_share']:.0%}"
        top = max(week["pages_by_service"].items(), key=lambda pair: pair[1], default=("", 0))
        most = f"{_cell(top[0] or '—')} ({top[1]})" if top[1] else "—"
        counts = f"{week['alerts']} | {week['pages']} | {week['night_pages']}"
        lines.append(f"| {week['week']} | {counts} | {noise} | {most} |")
    return lines
