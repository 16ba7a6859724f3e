"""Time to detect, acknowledge, mitigate and resolve, from an incident's recorded facts.

The draft and the incidents report both go through `figures()`, so an incident's numbers are
the same wherever they are shown. Every figure counts from `started_at`: the declaration, or
the first linked alert when it fired earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.incidents.rules import Status

SUCCEEDED = "succeeded"
FAILED = ("failed", "timed_out", "unknown")
FINISHED_STATES = (SUCCEEDED, *FAILED)
# the timeline kinds that `read_history` looks at
HISTORY_KINDS = ("declared", "severity_changed", "status_changed", "closed", "reopened")

EventRow = tuple[datetime, str, str | None, dict[str, Any]]  # at, kind, actor_id, data


@dataclass(frozen=True)
class SeverityStep:
    """The severity an incident had from `at`, and who set it."""

    at: datetime
    by: str | None
    severity: int


@dataclass(frozen=True)
class StatusStep:
    """The status an incident had from `at`, who set it and what they wrote."""

    at: datetime
    by: str | None
    status: str
    summary: str = ""


@dataclass(frozen=True)
class History:
    """What the timeline says about severity and status, oldest first."""

    severities: list[SeverityStep]
    statuses: list[StatusStep]
    first_monitoring_at: datetime | None
    last_resolved_at: datetime | None


def read_history(
    events: Iterable[EventRow], *, declared_at: datetime, declared_by: str, severity_now: int
) -> History:
    """Severity and status history from timeline rows in time order (other kinds are skipped)."""
    declared: int | None = None
    changes: list[SeverityStep] = []
    statuses = [StatusStep(declared_at, declared_by, Status.INVESTIGATING.value)]
    monitoring: datetime | None = None
    resolved: datetime | None = None
    for at, kind, actor, data in events:
        if kind == "declared" and declared is None:
            declared = _int(data.get("severity"))
        elif kind == "severity_changed" and _int(data.get("to")) is not None:
            if declared is None and not changes:
                declared = _int(data.get("from"))
            changes.append(SeverityStep(at, actor, int(data["to"])))
        elif kind == "status_changed" and data.get("to"):
            to = str(data["to"])
            statuses.append(StatusStep(at, actor, to, str(data.get("summary") or "")))
            if to == Status.MONITORING and monitoring is None:
                monitoring = at
            if to == Status.RESOLVED:
                resolved = at
        elif kind in ("closed", "reopened"):
            to = Status.CLOSED.value if kind == "closed" else Status.INVESTIGATING.value
            statuses.append(StatusStep(at, actor, to, "reopened" if kind == "reopened" else ""))
    first = declared if declared is not None else (changes[0].severity if changes else severity_now)
    severities = [SeverityStep(declared_at, declared_by, first), *changes]
    return History(severities, statuses, monitoring, resolved)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def resolution(resolved_at: datetime | None, status: str, history: History) -> datetime | None:
    """When the incident was resolved: the column, else the last status change to resolved while
    it is still resolved or closed (a reopened incident is not resolved)."""
    if resolved_at is not None:
        return resolved_at
    return history.last_resolved_at if status in (Status.RESOLVED, Status.CLOSED) else None


@dataclass(frozen=True)
class Facts:
    """The recorded moments the figures are computed from."""

    declared_at: datetime
    severities: list[SeverityStep]
    first_alert_at: datetime | None = None  # the earliest linked alert's first_seen_at
    alert_acknowledged_at: datetime | None = None  # the earliest acknowledgement of a linked alert
    first_response_at: datetime | None = None  # the first event by someone other than the declarer
    first_monitoring_at: datetime | None = None
    first_fix_at: datetime | None = None  # the first succeeded (not dry) run's finished_at
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Figures:
    """Times and durations (whole seconds; None when the fact was never recorded)."""

    started_at: datetime
    opened_by_alert: bool
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    time_to_detect: int | None
    person_ahead_of_alert: int | None
    time_to_acknowledge: int | None
    time_to_mitigate: int | None
    time_to_resolve: int | None
    time_in_severity: dict[str, int]
    worst_severity: int


def figures(facts: Facts, *, now: datetime) -> Figures:
    """The figures for one incident; `now` ends the severity clock of an unresolved incident."""
    alert, declared = facts.first_alert_at, facts.declared_at
    by_alert = alert is not None and alert <= declared
    started = alert if by_alert and alert is not None else declared
    # a person declaring is the acknowledgement; Warroom declaring from an alert is not
    acknowledged = _earliest(facts.alert_acknowledged_at, facts.first_response_at) if by_alert else declared
    mitigated = _earliest(facts.first_monitoring_at, facts.first_fix_at)
    end = facts.resolved_at or facts.closed_at or now
    return Figures(
        started_at=started,
        opened_by_alert=by_alert,
        acknowledged_at=acknowledged,
        mitigated_at=mitigated,
        resolved_at=facts.resolved_at,
        time_to_detect=seconds(started, declared) if by_alert else None,
        person_ahead_of_alert=seconds(declared, alert) if alert is not None and not by_alert else None,
        time_to_acknowledge=seconds(started, acknowledged),
        time_to_mitigate=seconds(started, mitigated),
        time_to_resolve=seconds(started, facts.resolved_at),
        time_in_severity=time_in_severity(facts.severities, end),
        worst_severity=min(step.severity for step in facts.severities),
    )


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def seconds(start: datetime, end: datetime | None) -> int | None:
    """Whole seconds from `start` to `end` (None when `end` is)."""
    return None if end is None else round((end - start).total_seconds())


def time_in_severity(steps: list[SeverityStep], end: datetime) -> dict[str, int]:
    """Seconds spent at each severity up to `end`, SEV1 first; every severity held appears."""
    spent: dict[int, float] = {}
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        stop = min(following.at if following else end, end)
        spent[step.severity] = spent.get(step.severity, 0.0) + max(0.0, (stop - step.at).total_seconds())
    return {f"SEV{level}": round(spent[level]) for level in sorted(spent)}


def first_response(events: Iterable[tuple[datetime, str | None]], declared_by: str) -> datetime | None:
    """The first (at, actor_id) whose actor is a person other than the declarer."""
    return next((at for at, actor in events if actor and actor != declared_by), None)


def duration(value: float | None) -> str:
    """Seconds as people say them: `45 s`, `14 min`, `2 h 5 min`, `3 d 4 h`; `—` when unknown."""
    if value is None:
        return "—"
    if value < 60:
        return f"{round(value)} s"
    minutes = round(value / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
