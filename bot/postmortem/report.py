"""The incidents report: how many, how bad, how fast they were acknowledged, mitigated and resolved,
how remediation went and what follow-ups remain, for incidents declared in a window, in all and
week by week (Monday 00:00 UTC, the week each incident was declared in).

A fixed handful of bulk queries whatever the number of incidents or weeks; each incident's
figures come from `metrics.figures()`, exactly as its postmortem draft computes them, and the
weeks are grouped from them here.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Select, func, select
from sqlmodel import Session, col

from bot import clock
from bot.postmortem import metrics
from bot.text import plural
from storage.models import Alert, FollowUp, Incident, RemediationRun, TimelineEvent

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
MEASURES = (("mtta", "Time to acknowledge"), ("mttm", "Time to mitigate"), ("mttr", "Time to resolve"))
WEEK_COLUMNS = ("Week", "Incidents", *SEVERITIES, "TTA median", "TTM median", "TTR median", "Runs", "Success")


def incident_report(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Figures for incidents declared in [since, until), in all and per week, ready for JSON
    (durations in seconds)."""
    # drills are practice: they do not count towards the figures
    window = (
        col(Incident.declared_at) >= since,
        col(Incident.declared_at) < until,
        col(Incident.drill_of).is_(None),
    )
    ids = select(col(Incident.id)).where(*window)
    counted = _figures(session, window, ids, until)
    week_of = {c.incident_id: c.week for c in counted}
    starts = clock.weeks(since, until)
    per_week: dict[datetime, list[metrics.Figures]] = {start: [] for start in starts}
    for c in counted:
        per_week[c.week].append(c.figures)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        **_summary([c.figures for c in counted]),
        "weeks": [{"week": _day(start), **_summary(per_week[start])} for start in starts],
        "remediation": _remediation(session, ids, week_of, starts),
        "follow_ups": _follow_ups(session, ids, until),
    }


def _summary(found: list[metrics.Figures]) -> dict[str, Any]:
    """How many incidents, by the worst severity each reached, and the spread of each measure."""
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for figures in found:
        label = f"SEV{figures.worst_severity}"
        by_severity[label] = by_severity.get(label, 0) + 1
    return {
        "incidents": len(found),
        "by_severity": by_severity,
        "mtta": spread([f.time_to_acknowledge for f in found]),
        "mttm": spread([f.time_to_mitigate for f in found]),
        "mttr": spread([f.time_to_resolve for f in found]),
    }


def _day(week: datetime) -> str:
    return week.date().isoformat()


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


class Counted(NamedTuple):
    """One incident's figures and the week it was declared in."""

    incident_id: int
    week: datetime
    figures: metrics.Figures


def _figures(
    session: Session, window: tuple[ColumnElement[bool], ...], ids: Select[Any], until: datetime
) -> list[Counted]:
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
        found.append(Counted(incident_id, clock.week_of(declared_at), metrics.figures(facts, now=until)))
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


def _remediation(
    session: Session, ids: Select[Any], week_of: dict[int, datetime], starts: list[datetime]
) -> dict[str, Any]:
    """Runs in the window's incidents, in all and per week of the incident's declaration:
    automatic (Warroom's own request, for a runbook action in auto mode) or asked for by a person,
    how they ended, and the success rate of those that finished (dry runs included)."""
    r = RemediationRun
    total: dict[str, int] = defaultdict(int)
    per_week: dict[datetime, dict[str, int]] = {start: defaultdict(int) for start in starts}
    for incident_id, state, automatic, dry_run, n in session.execute(
        select(col(r.incident_id), col(r.state), col(r.automatic), col(r.dry_run), func.count())
        .where(col(r.incident_id).in_(ids))
        .group_by(col(r.incident_id), col(r.state), col(r.automatic), col(r.dry_run))
    ):
        for counts in (total, per_week[week_of[incident_id]]):
            counts["total"] += n
            counts["succeeded"] += n if state == metrics.SUCCEEDED else 0
            counts["failed"] += n if state in metrics.FAILED else 0
            counts["automatic" if automatic else "manual"] += n
            counts["dry_run"] += n if dry_run else 0
    weeks = [{"week": _day(start), **_run_counts(per_week[start])} for start in starts]
    return {**_run_counts(total), "weeks": weeks}


def _run_counts(counts: dict[str, int]) -> dict[str, Any]:
    finished = counts["succeeded"] + counts["failed"]
    rate = round(counts["succeeded"] / finished, 4) if finished else None
    names = ("total", "succeeded", "failed", "automatic", "manual", "dry_run")
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
    """The report as a short Markdown document: a table of response times, then one of the weeks."""
    runs, follow_ups = figures["remediation"], figures["follow_ups"]
    severities = ", ".join(f"{label}: {n}" for label, n in figures["by_severity"].items())
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
        f"({runs['automatic']} automatic, {runs['manual']} asked for by people, "
        f"{plural(runs['dry_run'], 'dry run')}); "
        f"{runs['succeeded']} succeeded, {runs['failed']} failed or timed out; "
        f"success rate {_rate(runs['success_rate'])}",
        f"- Follow-ups: {follow_ups['total']}, {follow_ups['open']} open, {follow_ups['overdue']} overdue",
    ]
    return "\n".join(lines + _weeks_markdown(figures)) + "\n"


def _weeks_markdown(figures: dict[str, Any]) -> list[str]:
    """One line per week (median times; runs and their success rate)."""
    lines = ["", "## By week (from Monday, UTC)", "", "| " + " | ".join(WEEK_COLUMNS) + " |"]
    lines.append("|" + "---|" * len(WEEK_COLUMNS))
    runs = {week["week"]: week for week in figures["remediation"]["weeks"]}
    for week in figures["weeks"]:
        cells = [week["week"], week["incidents"], *week["by_severity"].values()]
        cells += [metrics.duration(week[key]["median"]) for key, _ in MEASURES]
        run = runs[week["week"]]
        cells += [run["total"], _rate(run["success_rate"])]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return lines


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"
