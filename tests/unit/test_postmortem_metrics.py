"""Time-to-X rules, severity clocks, durations and percentiles: pure functions, fixed clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.postmortem.metrics import (
    Facts,
    SeverityStep,
    duration,
    figures,
    first_response,
    read_history,
    resolution,
    time_in_severity,
)
from bot.postmortem.report import spread

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def history(*events):
    return read_history(list(events), declared_at=T0, declared_by="U0A", severity_now=2)


def test_history_reads_severity_and_status_changes_in_order():
    h = history(
        (T0, "declared", "U0A", {"severity": 3}),
        (at(1), "note", "U0B", {}),
        (at(2), "severity_changed", "U0B", {"from": 3, "to": 1}),
        (at(3), "status_changed", "U0B", {"from": "investigating", "to": "monitoring", "summary": "s"}),
        (at(4), "status_changed", "U0B", {"from": "monitoring", "to": "resolved", "summary": ""}),
        (at(5), "reopened", "U0B", {"from": "resolved"}),
        (at(6), "status_changed", "U0B", {"from": "investigating", "to": "monitoring", "summary": ""}),
        (at(7), "status_changed", "U0B", {"from": "monitoring", "to": "resolved", "summary": ""}),
        (at(8), "closed", "U0B", {}),
    )
    assert [(s.at, s.severity, s.by) for s in h.severities] == [(T0, 3, "U0A"), (at(2), 1, "U0B")]
    assert [s.status for s in h.statuses] == [
        "investigating",
        "monitoring",
        "resolved",
        "investigating",
        "monitoring",
        "resolved",
        "closed",
    ]
    assert (h.first_monitoring_at, h.last_resolved_at) == (at(3), at(7))


def test_without_a_declared_event_the_first_change_says_what_was_declared():
    h = history((at(2), "severity_changed", "U0B", {"from": 4, "to": 2}))
    assert [s.severity for s in h.severities] == [4, 2]
    assert [s.severity for s in history().severities] == [2]  # no events: the current severity


def test_a_reopened_incident_is_not_resolved_by_its_old_resolution():
    h = history((at(4), "status_changed", "U0B", {"from": "monitoring", "to": "resolved"}))
    assert resolution(None, "investigating", h) is None
    assert resolution(None, "closed", h) == at(4)
    assert resolution(at(9), "closed", h) == at(9)


def test_severity_clock_stops_at_the_end_and_adds_up_repeats():
    steps = [SeverityStep(T0, "U0A", 3), SeverityStep(at(5), "U0A", 1), SeverityStep(at(10), "U0A", 3)]
    assert time_in_severity(steps, at(30)) == {"SEV1": 300, "SEV3": 300 + 1200}
    assert time_in_severity(steps, at(7)) == {"SEV1": 120, "SEV3": 300}  # the last change came after


def test_a_person_declaring_acknowledges_and_a_later_alert_is_behind_them():
    facts = Facts(
        declared_at=T0,
        severities=[SeverityStep(T0, "U0A", 2)],
        first_alert_at=at(14),
        alert_acknowledged_at=at(20),
        first_response_at=at(1),
        first_fix_at=at(8),
        first_monitoring_at=at(12),
        resolved_at=at(30),
    )
    f = figures(facts, now=at(60))
    assert (f.opened_by_alert, f.started_at, f.acknowledged_at) == (False, T0, T0)
    assert (f.time_to_detect, f.person_ahead_of_alert) == (None, 14 * 60)
    assert (f.time_to_acknowledge, f.time_to_mitigate, f.time_to_resolve) == (0, 8 * 60, 30 * 60)
    assert f.time_in_severity == {"SEV2": 30 * 60}


def test_an_alert_opened_incident_counts_from_the_alert_until_someone_responds():
    base = Facts(declared_at=T0, severities=[SeverityStep(T0, "U0W", 2)], first_alert_at=at(-5))
    f = figures(base, now=at(60))
    assert (f.opened_by_alert, f.started_at, f.time_to_detect) == (True, at(-5), 300)
    assert f.time_to_acknowledge is None and f.time_to_resolve is None
    assert f.time_in_severity == {"SEV2": 3600}  # unresolved: until now
    responded = Facts(**{**vars(base), "first_response_at": at(3), "alert_acknowledged_at": at(7)})
    assert figures(responded, now=at(60)).time_to_acknowledge == 8 * 60


def test_closed_without_resolution_stops_the_severity_clock_at_close():
    facts = Facts(declared_at=T0, severities=[SeverityStep(T0, "U0A", 4)], closed_at=at(10))
    assert figures(facts, now=at(99)).time_in_severity == {"SEV4": 600}


def test_first_response_skips_warroom_and_the_declarer():
    events = [(at(0), "U0W"), (at(1), None), (at(2), "U0W"), (at(3), "U0B"), (at(4), "U0C")]
    assert first_response(events, "U0W") == at(3)
    assert first_response(events[:3], "U0W") is None


def test_durations_read_as_people_say_them():
    assert [duration(v) for v in (None, 0, 45, 89.6, 14 * 60, 3599, 7500, 3 * 86400 + 4 * 3600, 86400)] == [
        "—",
        "0 s",
        "45 s",
        "1 min",
        "14 min",
        "1 h",
        "2 h 5 min",
        "3 d 4 h",
        "1 d",
    ]


def test_spread_uses_the_nearest_rank_p90():
    assert spread(list(range(1, 11))) == {"median": 5.5, "p90": 9, "n": 10}
    assert spread([None, 7, None]) == {"median": 7, "p90": 7, "n": 1}
    assert spread([]) == {"median": None, "p90": None, "n": 0}


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=200))
def test_p90_is_a_value_with_at_least_ninety_percent_at_or_below_it(values):
    p90 = spread(list(values))["p90"]
    assert p90 in values
    assert sum(v <= p90 for v in values) >= math.ceil(0.9 * len(values))
    assert sum(v < p90 for v in values) < math.ceil(0.9 * len(values))
