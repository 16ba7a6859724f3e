"""The reports week by week (Monday 00:00 UTC): every week of the window, empty ones too, each
incident or alert event in the week it belongs to, the window's edges respected; on an in-memory
database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

import storage.models  # noqa: F401
from bot import clock
from bot.alerts.report import alert_report, report_markdown
from bot.postmortem.report import incident_report
from storage.models import Alert, AlertEvent, Incident, RemediationRun, TimelineEvent

SINCE = datetime(2026, 3, 4, tzinfo=UTC)  # a Wednesday: its week began on Monday 2 March
UNTIL = datetime(2026, 3, 23, tzinfo=UTC)  # a Monday at 00:00: its week is not in the window
BOT = "U0WARROOM"


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def incident(
    session: Session,
    number: int,
    at: datetime,
    severity: int,
    *,
    resolved_after: int | None = None,
    drill: bool = False,
) -> Incident:
    """A person declares it (acknowledged at once); resolved `resolved_after` seconds later."""
    row = Incident(
        number=number,
        title=f"Incident {number}",
        severity=severity,
        commander_id="U0ALICE",
        declared_by="U0ALICE",
        declared_at=at,
        drill_of="db-failover" if drill else None,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    event = {"severity": severity, "private": False}
    session.add(TimelineEvent(incident_id=row.id, at=at, kind="declared", actor_id="U0ALICE", data=event))
    if resolved_after is not None:
        done = at + timedelta(seconds=resolved_after)
        change = {"from": "investigating", "to": "resolved", "summary": ""}
        session.add(
            TimelineEvent(incident_id=row.id, at=done, kind="status_changed", actor_id="U0ALICE", data=change)
        )
        row.status, row.resolved_at = "resolved", done
    return row


def run(session: Session, of: Incident, state: str, *, automatic: bool = False) -> None:
    at = of.declared_at + timedelta(minutes=5)
    session.add(
        RemediationRun(
            incident_id=of.id,
            request_key=f"r-{of.id}-{state}-{automatic}",
            playbook_id="p",
            action_id="a",
            label="A",
            target="t",
            risk="low",
            binding="b",
            state=state,
            requested_by=BOT if automatic else "U0ALICE",
            automatic=automatic,
            requested_at=at,
            expires_at=at + timedelta(hours=1),
            finished_at=at + timedelta(minutes=1),
        )
    )


def incidents(session: Session) -> dict:
    before = incident(session, 1, datetime(2026, 3, 3, tzinfo=UTC), 1, resolved_after=60)  # before SINCE
    first = incident(session, 2, SINCE, 2, resolved_after=600)  # on the window's first instant
    sunday = incident(session, 3, datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC), 1, resolved_after=1200)
    monday = incident(session, 4, datetime(2026, 3, 16, tzinfo=UTC), 3, resolved_after=3000)
    incident(session, 5, datetime(2026, 3, 22, 23, tzinfo=UTC), 3)  # never resolved
    incident(session, 6, UNTIL, 4, resolved_after=60)  # on the window's end: the next window's
    drill = incident(session, 7, datetime(2026, 3, 17, tzinfo=UTC), 1, resolved_after=60, drill=True)
    run(session, first, "succeeded", automatic=True)
    run(session, sunday, "failed")
    run(session, sunday, "rejected")
    run(session, monday, "succeeded")
    run(session, before, "succeeded")
    run(session, drill, "failed", automatic=True)
    session.commit()
    return incident_report(session, SINCE, UNTIL)


def test_weeks_start_on_monday_utc_and_cover_the_window_edges():
    assert clock.week_of(datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC)) == datetime(2026, 3, 2, tzinfo=UTC)
    assert clock.week_of(datetime(2026, 3, 9, tzinfo=UTC)) == datetime(2026, 3, 9, tzinfo=UTC)
    monday_in_tokyo = datetime(2026, 3, 9, 8, tzinfo=ZoneInfo("Asia/Tokyo"))  # still Sunday in UTC
    assert clock.week_of(monday_in_tokyo) == datetime(2026, 3, 2, tzinfo=UTC)
    assert [w.day for w in clock.weeks(SINCE, UNTIL)] == [2, 9, 16]
    assert [w.day for w in clock.weeks(SINCE, UNTIL + timedelta.resolution)] == [2, 9, 16, 23]
    assert clock.weeks(SINCE, SINCE) == []


def test_incidents_are_counted_in_the_week_they_were_declared_in_with_empty_weeks(session):
    report = incidents(session)
    weeks = {w["week"]: w for w in report["weeks"]}
    assert list(weeks) == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert [w["incidents"] for w in weeks.values()] == [2, 0, 2]
    assert sum(w["incidents"] for w in weeks.values()) == report["incidents"] == 4
    assert weeks["2026-03-02"]["by_severity"] == {"SEV1": 1, "SEV2": 1, "SEV3": 0, "SEV4": 0}
    assert weeks["2026-03-16"]["by_severity"] == {"SEV1": 0, "SEV2": 0, "SEV3": 2, "SEV4": 0}
    assert weeks["2026-03-09"] == {
        "week": "2026-03-09",
        "incidents": 0,
        "by_severity": {"SEV1": 0, "SEV2": 0, "SEV3": 0, "SEV4": 0},
        **{key: {"median": None, "p90": None, "n": 0} for key in ("mtta", "mttm", "mttr")},
    }


def test_each_week_has_its_own_median_and_nearest_rank_p90(session):
    weeks = {w["week"]: w for w in incidents(session)["weeks"]}
    assert weeks["2026-03-02"]["mttr"] == {"median": 900, "p90": 1200, "n": 2}
    assert weeks["2026-03-02"]["mtta"] == {"median": 0, "p90": 0, "n": 2}
    assert weeks["2026-03-16"]["mttr"] == {"median": 3000, "p90": 3000, "n": 1}  # one never resolved
    assert weeks["2026-03-16"]["mtta"]["n"] == 2


def test_remediation_gives_runs_outcomes_success_rate_and_automatic_or_manual_per_week(session):
    runs = incidents(session)["remediation"]
    totals = {
        key: runs[key] for key in ("total", "succeeded", "failed", "automatic", "manual", "success_rate")
    }
    # the run before the window and the drill's are not counted; a rejected run never finished
    assert totals == {
        "total": 4,
        "succeeded": 2,
        "failed": 1,
        "automatic": 1,
        "manual": 3,
        "success_rate": round(2 / 3, 4),
    }
    weeks = {w["week"]: w for w in runs["weeks"]}
    assert list(weeks) == ["2026-03-02", "2026-03-09", "2026-03-16"]
    first = weeks["2026-03-02"]
    assert (first["total"], first["succeeded"], first["failed"], first["success_rate"]) == (3, 1, 1, 0.5)
    assert (first["automatic"], first["manual"]) == (1, 2)
    assert weeks["2026-03-09"]["total"] == 0 and weeks["2026-03-09"]["success_rate"] is None
    assert (weeks["2026-03-16"]["manual"], weeks["2026-03-16"]["success_rate"]) == (1, 1.0)


NOW = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday at 00:00: the alert window includes it
ALERTS_SINCE = datetime(2026, 11, 11, 12, tzinfo=UTC)  # a Wednesday


def alert(session: Session, key: str, service: str, triage: str, *, acked: bool = False) -> Alert:
    first = ALERTS_SINCE - timedelta(days=1)
    row = Alert(
        dedup_key=key,
        service_name=service,
        title=key,
        triage=triage,
        first_seen_at=first,
        last_seen_at=first,
        acknowledged_at=first + timedelta(minutes=3) if acked else None,
    )
    session.add(row)
    session.flush()
    return row


def fired(session: Session, row: Alert, at: datetime, *, paged: bool = True) -> None:
    session.add(AlertEvent(alert_id=row.id, kind="triggered", at=at, paged=paged))


def alerts(session: Session) -> dict:
    """Paris is UTC+1 in November: 02:00 UTC is night there, 21:30 UTC is 22:30, night too."""
    disk = alert(session, "disk", "Workers", "low")
    checkout = alert(session, "checkout", "Checkout API", "high", acked=True)
    cron = alert(session, "cron", "Batch", "ignore")
    fired(session, disk, datetime(2026, 11, 11, 11, tzinfo=UTC))  # before the window
    fired(session, disk, datetime(2026, 11, 12, 2, tzinfo=UTC))  # night in Paris
    fired(session, disk, datetime(2026, 11, 12, 14, tzinfo=UTC))
    fired(session, checkout, datetime(2026, 11, 24, 21, 30, tzinfo=UTC))  # night in Paris
    fired(session, checkout, datetime(2026, 11, 25, 9, tzinfo=UTC), paged=False)
    fired(session, cron, datetime(2026, 11, 26, 9, tzinfo=UTC), paged=False)
    fired(session, disk, NOW)  # the window's last instant: 01:00 in Paris
    session.commit()
    return alert_report(session, ALERTS_SINCE, NOW, "Europe/Paris")


def test_alert_weeks_count_pages_per_service_noise_and_night_pages_with_empty_weeks(session):
    weeks = {w["week"]: w for w in alerts(session)["weeks"]}
    assert list(weeks) == ["2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]
    assert [w["pages_by_service"] for w in weeks.values()] == [
        {"Workers": 2, "Checkout API": 0},
        {"Workers": 0, "Checkout API": 0},
        {"Workers": 0, "Checkout API": 1},
        {"Workers": 1, "Checkout API": 0},
    ]
    assert [w["pages"] for w in weeks.values()] == [2, 0, 1, 1]
    assert [w["night_pages"] for w in weeks.values()] == [1, 0, 1, 1]
    assert [w["alerts"] for w in weeks.values()] == [1, 0, 2, 1]
    # noise as the rows count it: nobody acknowledged it and it opened no incident
    assert [w["noise_share"] for w in weeks.values()] == [1.0, None, 0.5, 1.0]


def test_alert_weeks_keep_the_rows_and_the_advice(session):
    report = alerts(session)
    rows = {row["service"]: row for row in report["alerts"]}
    assert (rows["Workers"]["pages"], rows["Workers"]["night_pages"], rows["Workers"]["flapping"]) == (
        3,
        2,
        0,
    )
    assert sum(w["pages"] for w in report["weeks"]) == sum(row["pages"] for row in report["alerts"])
    assert {c["service"] for c in report["candidates"]} >= {"Workers"}
    text = report_markdown(report)
    assert "| 2026-11-16 | 0 | 0 | 0 | — | — |" in text
    assert "| 2026-11-23 | 2 | 1 | 1 | 50% | Checkout API (1) |" in text


def test_an_alert_window_within_one_week_has_that_week_alone(session):
    report = alert_report(session, NOW + timedelta(hours=1), NOW + timedelta(days=2))
    assert report["weeks"] == [
        {
            "week": "2026-11-30",
            "alerts": 0,
            "pages": 0,
            "pages_by_service": {},
            "noise_share": None,
            "night_pages": 0,
        }
    ]
