"""The alert noise report's figures on a generated week of alerts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.alerts.report import alert_report, report_markdown
from bot.cli import cli
from bot.flows.alert_report import post_weekly_report
from bot.incidents.rules import Declaration, Severity
from bot.incidents.service import declare_incident
from bot.jobs import faults
from storage.models import Alert, AlertEvent, RemediationRun, TriageOverride
from storage.session import session_scope

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def alert(
    session,
    key: str,
    title: str,
    service: str,
    *,
    triage: str,
    first: datetime,
    ack: timedelta | None = None,
    incident: int | None = None,
) -> Alert:
    row = Alert(
        dedup_key=key,
        pd_incident_id=key,
        service_name=service,
        title=title,
        triage=triage,
        first_seen_at=first,
        last_seen_at=first,
        acknowledged_at=first + ack if ack else None,
        incident_id=incident,
    )
    session.add(row)
    session.flush()
    return row


def event(session, row: Alert, kind: str, at: datetime, paged: bool = False) -> None:
    session.add(AlertEvent(alert_id=row.id, kind=kind, at=at, paged=paged))


def generate_week() -> None:
    """Disk alerts flap at night and page; checkout pages once and is acknowledged fast."""
    with session_scope() as session:
        start = NOW - timedelta(days=6)
        disk = alert(session, "disk", "Disk usage high", "Workers", triage="low", first=start.replace(hour=2))
        for day in range(6):
            at = (start + timedelta(days=day)).replace(hour=2)
            event(session, disk, "triggered", at, paged=True)
            event(session, disk, "resolved", at + timedelta(minutes=10))
            event(session, disk, "triggered", at + timedelta(minutes=40), paged=True)  # flaps back within 1 h
        for n, minutes in enumerate((2, 4, 6, 8, 30)):
            first = (start + timedelta(days=n)).replace(hour=14)
            row = alert(
                session,
                f"co-{n}",
                "Checkout 5xx",
                "Checkout API",
                triage="high",
                first=first,
                ack=timedelta(minutes=minutes),
            )
            event(session, row, "triggered", first, paged=True)
        old = alert(
            session, "old", "Checkout 5xx", "Checkout API", triage="high", first=NOW - timedelta(days=30)
        )
        event(session, old, "triggered", NOW - timedelta(days=30), paged=True)  # outside the window


def test_figures_per_service_and_alert(db):
    generate_week()
    with session_scope() as session:
        report = alert_report(session, NOW - timedelta(days=7), NOW)
    rows = {row["title"]: row for row in report["alerts"]}
    disk, checkout = rows["Disk usage high"], rows["Checkout 5xx"]
    assert (disk["count"], disk["pages"], disk["flapping"], disk["night_pages"], disk["low"]) == (
        12,
        12,
        6,
        12,
        1,
    )
    assert (checkout["count"], checkout["pages"], checkout["night_pages"]) == (5, 5, 0)
    assert checkout["tta_median_s"] == 6 * 60 and checkout["tta_p90_s"] == 30 * 60
    assert [c["title"] for c in report["candidates"]] == ["Disk usage high", "Checkout 5xx"]
    assert report["candidates"][0]["advice"].startswith("flaps")
    text = report_markdown(report)
    assert (
        "| PagerDuty | Workers | Disk usage high | 12 | 12 | 100% | — | — | 0 | 0 | 0 | 1 | 6 | 12 |" in text
    )
    assert "| PagerDuty | Checkout API | Checkout 5xx | 5 | 5 | 0% | 6.0 min | 30.0 min |" in text


def test_night_pages_are_counted_in_the_on_call_zone(db):
    generate_week()  # the disk pages at 02:00 and 02:40 UTC; checkout's at 14:00 UTC
    with session_scope() as session:
        tokyo = alert_report(session, NOW - timedelta(days=7), NOW, "Asia/Tokyo")
    rows = {row["title"]: row for row in tokyo["alerts"]}
    assert rows["Disk usage high"]["night_pages"] == 0  # 11:00 and 11:40 in Tokyo
    assert rows["Checkout 5xx"]["night_pages"] == 5  # 23:00 in Tokyo
    assert "between 22:00 and 07:00 Asia/Tokyo" in report_markdown(tokyo)


def test_every_source_is_reported_with_rules_made_from_slack(db):
    with session_scope() as session:
        start = NOW - timedelta(days=5)
        for n in range(3):
            row = alert(
                session,
                f"am-{n}",
                "Checkout is serving HTTP 5xx errors",
                "checkout",
                triage="high",
                first=start,
            )
            row.source, row.name = "alertmanager", "HighErrorRate"
            row.incident_id = None
            event(session, row, "triggered", start + timedelta(hours=n), paged=True)
        session.add(
            TriageOverride(
                alert_id=row.id,
                action="noise",
                match={"key": row.dedup_key},
                about="the alert Checkout is serving HTTP 5xx errors",
                reason="known flake",
                created_by="U0BOB",
                created_at=start,
                expires_at=start + timedelta(days=7),
                applied=4,
            )
        )
    with session_scope() as session:
        report = alert_report(session, NOW - timedelta(days=7), NOW)
    [row] = report["alerts"]
    assert (row["source"], row["title"], row["count"]) == ("alertmanager", "HighErrorRate", 3)
    [rule] = report["slack_rules"]
    assert (rule["action"], rule["by"], rule["decided"]) == ("noise", "U0BOB", 4)
    text = report_markdown(report)
    assert "| Alertmanager | checkout | HighErrorRate | 3 | 3 |" in text
    assert "## Triage rules made from Slack" in text and "(known flake; decided 4)" in text


def test_report_command_prints_markdown_and_json(db, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db)
    generate_week()
    monkeypatch.setattr("bot.clock.now", lambda: NOW)
    md = CliRunner().invoke(cli, ["report", "alerts", "--since", "7d"])
    assert md.exit_code == 0, md.output
    assert "# Alert noise report, 2026-11-23 to 2026-11-30" in md.output
    as_json = CliRunner().invoke(cli, ["report", "alerts", "--since", "7d", "--format", "json"])
    assert {row["title"] for row in json.loads(as_json.output)["alerts"]} == {
        "Disk usage high",
        "Checkout 5xx",
    }
    assert "| 2026-11-23 | 6 | 17 | 12 | 17% | Workers (12) |" in md.output
    weeks = json.loads(as_json.output)["weeks"]
    assert [(w["week"], w["pages_by_service"]) for w in weeks] == [
        ("2026-11-23", {"Workers": 12, "Checkout API": 5}),
        ("2026-11-30", {"Workers": 0, "Checkout API": 0}),
    ]
    bad = CliRunner().invoke(cli, ["report", "alerts", "--since", "a week"])
    assert bad.exit_code != 0 and "use a number and d, h or m" in bad.output


KEY = "schedule:alert-report:2026-11-30T12:00:00Z"
PNG = b"\x89PNG\r\n\x1a\n"
SENT = ("chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal")


def weekly_report(warroom, monkeypatch, **retry) -> None:
    monkeypatch.setattr("bot.clock.now", lambda: NOW)
    warroom.deps.settings.warroom_alert_report_channel = "C0GENERAL"
    asyncio.run(post_weekly_report(warroom.deps, NOW, key=KEY, **retry))
    warroom.settle()


def sent(warroom) -> list:
    return [call for call in warroom.sim.calls if call.method in SENT]


def test_the_weekly_report_is_posted_with_its_chart_in_its_thread(warroom, monkeypatch):
    generate_week()
    warroom.sim.clear_calls()
    weekly_report(warroom, monkeypatch)
    [post] = warroom.sim.channel("C0GENERAL")["messages"]
    assert "Disk usage high" in post["text"] and post["text"].startswith("```# Alert noise report")
    assert "| 2026-11-23 | 6 | 17 | 12 | 17% | Workers (12) |" in post["text"]
    # the text first, then the chart's bytes announced and sent, then shared under the text
    posted, slot, complete = sent(warroom)
    assert [call.method for call in (posted, slot, complete)] == list(SENT)
    assert posted.args["metadata"]["event_payload"] == {"key": KEY}
    [chart] = warroom.sim.files.values()
    assert chart["content"].startswith(PNG) and chart["channel_id"] == "C0GENERAL"
    # slack_sdk sends both as a POST's query string, which Slack reads as a form (test_wire_encodings)
    assert slot.encoding == "query" and slot.args == {
        "filename": "alert-report-2026-11-30.png",
        "length": str(len(chart["content"])),
    }
    assert complete.encoding == "query" and complete.args == {
        "files": [{"id": slot.response["file_id"], "title": "alert-report-2026-11-30.png"}],
        "channel_id": "C0GENERAL",
        "thread_ts": post["ts"],
    }
    assert all(call.ok for call in (posted, slot, complete))


def test_a_retried_weekly_report_posts_and_shares_its_chart_once(warroom, monkeypatch):
    generate_week()
    weekly_report(warroom, monkeypatch)
    weekly_report(warroom, monkeypatch, since=0.0)  # the job's retry: it looks for its post first
    assert [call.method for call in sent(warroom)] == list(SENT)
    assert warroom.sim.calls_to("conversations.history")
    assert len(warroom.sim.channel("C0GENERAL")["messages"]) == 1 and len(warroom.sim.files) == 1


@pytest.mark.parametrize("point", ["report.posted", "report.chart_recorded"])
def test_a_weekly_report_crashed_mid_way_shows_one_post_and_one_chart(warroom, monkeypatch, point):
    generate_week()
    faults.arm(point)
    with pytest.raises(faults.Crash):
        weekly_report(warroom, monkeypatch)
    weekly_report(warroom, monkeypatch, since=0.0)
    [post] = warroom.sim.channel("C0GENERAL")["messages"]
    [complete] = warroom.sim.calls_to("files.completeUploadExternal")
    assert complete.args["thread_ts"] == post["ts"] and len(warroom.sim.files) == 1
    assert len(warroom.sim.calls_to("files.getUploadURLExternal")) == 1


def test_a_week_without_pages_posts_no_chart(warroom, monkeypatch):
    weekly_report(warroom, monkeypatch)
    assert [call.method for call in sent(warroom)] == ["chat.postMessage"]


def test_automatic_fixes_show_their_track_record_and_what_to_do(db):
    with session_scope() as session:
        start = NOW - timedelta(days=5)
        for n, state in enumerate(["succeeded"] * 5 + ["failed", "failed"]):
            flush = n < 5
            declaration = Declaration(title=f"Cache cold {n}", severity=Severity(3))
            incident, _ = declare_incident(session, declaration, by="U0BOT", at=start, key=f"alert:c{n}")
            row = alert(session, f"c{n}", "Cache hit rate low", "cache", triage="high", first=start)
            row.incident_id = incident.id
            event(session, row, "triggered", start, paged=True)
            session.add(
                RemediationRun(
                    incident_id=incident.id,
                    request_key=f"auto:{incident.id}",
                    playbook_id="cache" if flush else "queue",
                    action_id="flush" if flush else "drain",
                    label="Flush the cold shard" if flush else "Drain the queue",
                    target="cache",
                    risk="low",
                    binding="b",
                    state=state,
                    requested_by="U0BOT",
                    automatic=True,
                    requested_at=start,
                    expires_at=start + timedelta(hours=1),
                    finished_at=start + timedelta(minutes=3),
                )
            )
    with session_scope() as session:
        report = alert_report(session, NOW - timedelta(days=7), NOW)
    fixes = {fix["action"]: fix for fix in report["automatic"]}
    assert (fixes["cache/flush"]["succeeded"], fixes["cache/flush"]["recover_median_s"]) == (5, 180)
    assert fixes["cache/flush"]["advice"].startswith("promote")
    assert fixes["queue/drain"]["advice"].startswith("demote")
    text = report_markdown(report)
    assert "- **Flush the cold shard** (`cache/flush`): 5 runs, 5 succeeded, 0 failed" in text
    assert [row["fixed_automatically"] for row in report["alerts"]] == [5]
