"""The alert noise report: what paged, how often, how fast it was acknowledged, what was noise."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.text import plural
from storage.models import Alert, AlertEvent

FLAP_WINDOW = timedelta(hours=1)
NIGHT_HOURS = range(0, 7)  # 00:00-06:59 UTC, plus 22:00 and 23:00
TOP = 5
COLUMNS = (
    "service",
    "alert",
    "count",
    "pages",
    "TTA median",
    "TTA p90",
    "incidents",
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


def _is_night(at: datetime) -> bool:
    return at.hour in NIGHT_HOURS or at.hour >= 22


def _row(alerts: list[Alert], events: list[AlertEvent]) -> dict[str, Any]:
    triggers = [e for e in events if e.kind == "triggered"]
    resolves = sorted(e.at for e in events if e.kind == "resolved")
    flaps = sum(1 for t in triggers if any(timedelta(0) < t.at - r <= FLAP_WINDOW for r in resolves))
    acks = [(a.acknowledged_at - a.first_seen_at).total_seconds() for a in alerts if a.acknowledged_at]
    return {
        "service": alerts[0].service_name,
        "title": alerts[0].title,
        "count": len(triggers),
        "pages": sum(1 for t in triggers if t.paged),
        "tta_median_s": statistics.median(acks) if acks else None,
        "tta_p90_s": _percentile(acks, 90),
        "incidents": sum(1 for a in alerts if a.incident_id is not None),
        "ignored": sum(1 for a in alerts if a.triage == "ignore"),
        "low": sum(1 for a in alerts if a.triage == "low"),
        "flapping": flaps,
        "night_pages": sum(1 for t in triggers if t.paged and _is_night(t.at)),
    }


def _advice(row: dict[str, Any]) -> str | None:
    if row["incidents"]:
        return None
    if row["flapping"]:
        return "flaps: add hysteresis or a longer evaluation window"
    if row["pages"] and row["tta_median_s"] is None:
        return "pages but nobody acknowledges it: remove it or route it elsewhere"
    if row["pages"]:
        return "pages but never became an incident: downgrade to low urgency"
    if row["count"] and row["ignored"] + row["low"]:
        return "never acted on: consider removing it"
    return None


def alert_report(session: Session, since: datetime, now: datetime) -> dict[str, Any]:
    """Figures per service and alert for the window, and the top candidates to remove or downgrade."""
    statement = (
        select(AlertEvent, Alert)
        .join(Alert, col(Alert.id) == col(AlertEvent.alert_id))
        .where(col(AlertEvent.at) >= since, col(AlertEvent.at) <= now)
    )
    events: dict[tuple[str, str], list[AlertEvent]] = defaultdict(list)
    alerts: dict[tuple[str, str], dict[int, Alert]] = defaultdict(dict)
    for event, alert in session.exec(statement).all():
        group = (alert.service_name, alert.title)
        events[group].append(event)
        assert alert.id is not None
        alerts[group][alert.id] = alert
    rows = sorted(
        (_row(list(alerts[g].values()), events[g]) for g in events), key=lambda r: (-r["pages"], -r["count"])
    )
    candidates = [{**row, "advice": advice} for row in rows if (advice := _advice(row))][:TOP]
    return {"since": since.isoformat(), "until": now.isoformat(), "alerts": rows, "candidates": candidates}


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value / 60:.1f} min"


def report_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table and a list of candidates."""
    lines = [
        f"# Alert noise report, {report['since'][:10]} to {report['until'][:10]}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in report["alerts"]:
        title = str(row["title"]).replace("|", "\\|")
        lines.append(
            f"| {row['service']} | {title} | {row['count']} | {row['pages']} | "
            f"{_seconds(row['tta_median_s'])} | {_seconds(row['tta_p90_s'])} | {row['incidents']} | "
            f"{row['ignored']} | {row['low']} | {row['flapping']} | {row['night_pages']} |"
        )
    if not report["alerts"]:
        lines.append("| — | no alerts in this window | | | | | | | | | |")
    lines += ["", "## Candidates for removal or downgrade", ""]
    lines += [
        f"- **{c['service']}: {c['title']}** ({plural(c['count'], 'alert')}, {plural(c['pages'], 'page')}): "
        f"{c['advice']}"
        for c in report["candidates"]
    ] or ["- none: every alert that paged led to an incident"]
    return "\n".join(lines) + "\n"
