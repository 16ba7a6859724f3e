"""The incidents report: how many, how bad, how fast they were acknowledged, mitigated and resolved,
how remediation went and what follow-ups remain, for incidents declared in a window.

A fixed handful of bulk queries whatever the number of incidents; each incident's figures come
from `metrics.figures()`, exactly as its postmortem draft computes them.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, func, select
from sqlmodel import Session, col

from bot.postmortem import metrics
from bot.text import plural
from storage.models import Alert, FollowUp, Incident, RemediationRun, TimelineEvent

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
MEASURES = (("mtta", "Time to acknowledge"), ("mttm", "Time to mitigate"), ("mttr", "Time to resolve"))


def incident_report(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Figures for incidents declared in [since, until), ready for JSON (durations in seconds)."""
    # drills are practice: they do not count towards the figures
    window = (
        col(Incident.declared_at) >= since,
        col(Incident.declared_at) < until,
        col(Incident.drill_of).is_(None),
    )
    ids = select(col(Incident.id)).where(*window)
    all_figures = _figures(session, window, ids, until)
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for figures in all_figures:
        label = f"SEV{figures.worst_severity}"
        by_severity[label] = by_severity.get(label, 0) + 1
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "incidents": len(all_figures),
        "by_severity": by_severity,
        "mtta": spread([f.time_to_acknowledge for f in all_figures]),
        "mttm": spread([f.time_to_mitigate for f in all_figures]),
        "mttr": spread([f.time_to_resolve for f in all_figures]),
        "remediation": _remediation(session, ids),
        "follow_ups": _follow_ups(session, ids, until),
    }


def spread(values: list[int | None]) -> dict[str, float | int | None]:
    """Median, 90th percentile (nearest rank) and count of the known values."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return {"median": None, "p90": None, "n": 0}
    return {
        "median": statistics.median(known),
        "p90": known[math.ceil(0.9 * len(known)) - 1],
        "n": len(known),
    }


def _figures(
    session: Session, window: tuple[ColumnElement[bool], ...], ids: Select[Any], until: datetime
) -> list[metrics.Figures]:
    i = Incident
    incidents = session.execute(
        select(
            col(i.id),
            col(i.severity),
            col(i.status),
            col(i.declared_at),
            col(i.declared_by),
            col(i.resolved_at),
            col(i.closed_at),
        ).where(*window)
    )
    events, alerts = _history_events(session, ids), _alert_times(session, ids)
    responses, fixes = _first_responses(session, window), _first_fixes(session, ids)
    found = []
    for incident_id, severity, status, declared_at, declared_by, resolved_at, closed_at in incidents:
        assert incident_id is not None
        history = metrics.read_history(
            events[incident_id], declared_at=declared_at, declared_by=declared_by, severity_now=severity
        )
        first_alert, acknowledged = alerts.get(incident_id, (None, None))
        facts = metrics.Facts(
            declared_at=declared_at,
            severities=history.severities,
            first_alert_at=first_alert,
            alert_acknowledged_at=acknowledged,
            first_response_at=responses.get(incident_id),
            first_monitoring_at=history.first_monitoring_at,
            first_fix_at=fixes.get(incident_id),
            resolved_at=metrics.resolution(resolved_at, status, history),
            closed_at=closed_at,
        )
        found.append(metrics.figures(facts, now=until))
    return found


def _history_events(session: Session, ids: Select[Any]) -> dict[int, list[metrics.EventRow]]:
    """The severity and status events of each incident, oldest first."""
    e = TimelineEvent
    events: dict[int, list[metrics.EventRow]] = defaultdict(list)
    for incident_id, at, kind, actor, data in session.execute(
        select(col(e.incident_id), col(e.at), col(e.kind), col(e.actor_id), col(e.data))
        .where(col(e.kind).in_(metrics.HISTORY_KINDS), col(e.incident_id).in_(ids))
        .order_by(col(e.incident_id), col(e.at), col(e.id))
    ):
        events[incident_id].append((at, kind, actor, data))
    return events


def _first_responses(session: Session, window: tuple[ColumnElement[bool], ...]) -> dict[int, datetime]:
    """The first event by someone other than the declarer (`metrics.first_response`), per incident."""
    e, i = TimelineEvent, Incident
    statement = (
        select(col(e.incident_id), func.min(col(e.at)))
        .join(i, col(i.id) == col(e.incident_id))
        .where(*window, col(e.actor_id).is_not(None), col(e.actor_id) != col(i.declared_by))
        .group_by(col(e.incident_id))
    )
    return _by_incident(session, statement)


def _alert_times(session: Session, ids: Select[Any]) -> dict[int, tuple[datetime, datetime | None]]:
    """The first linked alert's first sighting and the first acknowledgement, per incident."""
    a = Alert
    statement = (
        select(col(a.incident_id), func.min(col(a.first_seen_at)), func.min(col(a.acknowledged_at)))
        .where(col(a.incident_id).in_(ids))
        .group_by(col(a.incident_id))
    )
    return {i: (seen, acked) for i, seen, acked in session.execute(statement) if i is not None}


def _first_fixes(session: Session, ids: Select[Any]) -> dict[int, datetime]:
    """When the first succeeded run (not a dry run) finished, per incident."""
    r = RemediationRun
    statement = (
        select(col(r.incident_id), func.min(col(r.finished_at)))
        .where(col(r.incident_id).in_(ids), col(r.state) == metrics.SUCCEEDED, col(r.dry_run).is_(False))
        .group_by(col(r.incident_id))
    )
    return _by_incident(session, cast("Select[int, datetime | None]", statement))  # runs in incidents


def _by_incident(session: Session, statement: Select[int, datetime | None]) -> dict[int, datetime]:
    return {incident_id: at for incident_id, at in session.execute(statement) if at is not None}


def _remediation(session: Session, ids: Select[Any]) -> dict[str, Any]:
    r = RemediationRun
    counts: dict[str, int] = defaultdict(int)
    for state, automatic, dry_run, n in session.execute(
        select(col(r.state), col(r.automatic), col(r.dry_run), func.count())
        .where(col(r.incident_id).in_(ids))
        .group_by(col(r.state), col(r.automatic), col(r.dry_run))
    ):
        counts["total"] += n
        counts["succeeded"] += n if state == metrics.SUCCEEDED else 0
        counts["failed"] += n if state in metrics.FAILED else 0
        counts["automatic"] += n if automatic else 0
        counts["dry_run"] += n if dry_run else 0
    finished = counts["succeeded"] + counts["failed"]
    rate = round(counts["succeeded"] / finished, 4) if finished else None
    names = ("total", "succeeded", "failed", "automatic", "dry_run")
    return {**{name: counts[name] for name in names}, "success_rate": rate}


def _follow_ups(session: Session, ids: Select[Any], until: datetime) -> dict[str, int]:
    f = FollowUp
    total = open_ = overdue = 0
    for done_at, due_on in session.execute(
        select(col(f.done_at), col(f.due_on)).where(col(f.incident_id).in_(ids))
    ):
        total += 1
        if done_at is None:
            open_ += 1
            overdue += 1 if due_on is not None and due_on < until.date() else 0
    return {"total": total, "open": open_, "overdue": overdue}


def report_markdown(figures: dict[str, Any]) -> str:
    """The report as a short Markdown document with one table of response times."""
    runs, follow_ups = figures["remediation"], figures["follow_ups"]
    severities = ", ".join(f"{label}: {n}" for label, n in figures["by_severity"].items())
    rate = "—" if runs["success_rate"] is None else f"{runs['success_rate']:.0%}"
    lines = [
        f"# Incidents report, {figures['since'][:10]} to {figures['until'][:10]}",
        "",
        f"{plural(figures['incidents'], 'incident')} declared (worst severity reached: {severities}).",
        "",
        "| Measure | Median | p90 | Incidents |",
        "|---|---|---|---|",
    ]
    for key, name in MEASURES:
        figure = figures[key]
        median, p90 = metrics.duration(figure["median"]), metrics.duration(figure["p90"])
        lines.append(f"| {name} | {median} | {p90} | {figure['n']} |")
    lines += [
        "",
        f"- Remediation runs: {runs['total']} "
        f"({runs['automatic']} automatic, {plural(runs['dry_run'], 'dry run')}); "
        f"{runs['succeeded']} succeeded, {runs['failed']} failed or timed out; success rate {rate}",
        f"- Follow-ups: {follow_ups['total']}, {follow_ups['open']} open, {follow_ups['overdue']} overdue",
    ]
    return "\n".join(lines) + "\n"
