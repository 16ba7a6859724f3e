"""The incidents report over generated incidents, with hand-computed medians and p90s; on SQLite
and on Postgres (DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from bot.postmortem.draft import build_draft
from bot.postmortem.report import incident_report, report_markdown, spread
from storage.models import Alert, FollowUp, Incident, RemediationRun, TimelineEvent
from storage.session import session_scope

SINCE = datetime(2026, 4, 1, tzinfo=UTC)
UNTIL = datetime(2026, 4, 8, tzinfo=UTC)
BOT = "U0WARROOM"


class Script:
    """Rows for one incident, written the way the domain writes them."""

    def __init__(self, session, number: int, day: int, severity: int, by: str = "U0ALICE") -> None:
        self.session, self.t0 = session, SINCE + timedelta(days=day, hours=10)
        self.incident = Incident(
            number=number,
            title=f"Incident {number}",
            severity=severity,
            commander_id=by,
            declared_by=by,
            declared_at=self.t0,
        )
        session.add(self.incident)
        session.flush()
        self.event(0, "declared", by, {"severity": severity, "private": False})

    @property
    def id(self) -> int:
        assert self.incident.id is not None
        return self.incident.id

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    def event(self, seconds: float, kind: str, actor: str | None, data: dict | None = None) -> None:
        self.session.add(
            TimelineEvent(
                incident_id=self.id, at=self.at(seconds), kind=kind, actor_id=actor, data=data or {}
            )
        )

    def status(self, seconds: float, to: str, frm: str = "investigating") -> None:
        self.event(seconds, "status_changed", "U0ALICE", {"from": frm, "to": to, "summary": ""})
        if to == "resolved":
            self.incident.status, self.incident.resolved_at = "resolved", self.at(seconds)

    def severity(self, seconds: float, frm: int, to: int) -> None:
        self.event(seconds, "severity_changed", "U0ALICE", {"from": frm, "to": to})
        self.incident.severity = to

    def alert(self, first_seen: float, acknowledged: float | None) -> None:
        self.session.add(
            Alert(
                dedup_key=f"a-{self.id}",
                pd_incident_id=f"PD{self.id}",
                incident_id=self.id,
                first_seen_at=self.at(first_seen),
                last_seen_at=self.at(first_seen),
                acknowledged_at=None if acknowledged is None else self.at(acknowledged),
            )
        )

    def run(self, state: str, finished: float, *, automatic: bool = False, dry_run: bool = False) -> None:
        self.session.add(
            RemediationRun(
                incident_id=self.id,
                request_key=f"r-{self.id}-{state}-{finished}",
                playbook_id="p",
                action_id="a",
                label="A",
                target="t",
                risk="low",
                binding="b",
                state=state,
                requested_by="U0ALICE",
                automatic=automatic,
                dry_run=dry_run,
                requested_at=self.at(0),
                expires_at=self.at(900),
                finished_at=self.at(finished),
            )
        )

    def follow_up(self, n: int, due: date | None, done: bool = False) -> None:
        self.session.add(
            FollowUp(
                incident_id=self.id,
                request_key=f"f-{self.id}-{n}",
                text="x",
                due_on=due,
                created_by="U0ALICE",
                created_at=self.at(0),
                done_at=self.at(5000) if done else None,
            )
        )


def generate() -> None:
    """Five incidents in the window and one before it; the figures are in the test below."""
    with session_scope() as session:
        a = Script(session, 1, 0, 2)  # a person declared: acknowledged at once
        a.status(300, "monitoring")
        a.status(600, "resolved", "monitoring")
        a.run("failed", 200)
        a.follow_up(1, date(2026, 4, 2), done=True)

        b = Script(session, 2, 1, 2, by=BOT)  # alert 60 s before, acknowledged 240 s after declaring
        b.alert(-60, 240)
        b.event(500, "note", "U0BOB")
        b.status(1140, "resolved")
        b.run("timed_out", 100, automatic=True)
        b.follow_up(1, date(2026, 4, 7))  # overdue: before the window's end date

        c = Script(session, 3, 2, 3, by=BOT)  # alert at declaration, a person acts first at +600 s
        c.alert(0, None)
        c.event(60, "channel_created", None)
        c.event(900, "note", "U0CAROL")
        c.severity(600, 3, 1)
        c.severity(2000, 1, 2)
        c.status(1800, "monitoring")
        c.status(3600, "resolved", "monitoring")
        c.run("succeeded", 100, automatic=True, dry_run=True)  # a dry run mitigates nothing
        c.follow_up(1, date(2026, 4, 8))  # due on the end date: not overdue yet

        d = Script(session, 4, 3, 4)  # monitoring after a minute, never resolved
        d.status(60, "monitoring")
        d.run("rejected", 30)
        d.follow_up(1, None)

        e = Script(session, 5, 4, 3)  # a succeeded run mitigated it
        e.run("succeeded", 120)
        e.status(240, "resolved")

        before = Script(session, 6, -1, 1)  # declared before the window: not counted
        before.status(10, "resolved")
        before.run("succeeded", 5)
        before.follow_up(1, date(2026, 3, 1))


def test_the_report_counts_the_window_with_medians_and_nearest_rank_p90(db):
    generate()
    with session_scope() as session:
        report = incident_report(session, SINCE, UNTIL)
    assert report["since"] == "2026-04-01T00:00:00+00:00" and report["until"] == "2026-04-08T00:00:00+00:00"
    assert report["incidents"] == 5
    assert report["by_severity"] == {"SEV1": 1, "SEV2": 2, "SEV3": 1, "SEV4": 1}
    # TTA: A 0, B 60+240, C 600 (raising the severity), D 0, E 0 → [0, 0, 0, 300, 600]
    assert report["mtta"] == {"median": 0, "p90": 600, "n": 5}
    # TTM: A 300, C 1800 (not the dry run), D 60, E 120 → [60, 120, 300, 1800]
    assert report["mttm"] == {"median": 210, "p90": 1800, "n": 4}
    # TTR: A 600, B 60+1140, C 3600, E 240 → [240, 600, 1200, 3600]
    assert report["mttr"] == {"median": 900, "p90": 3600, "n": 4}
    assert {k: v for k, v in report["remediation"].items() if k != "weeks"} == {
        "total": 5,
        "succeeded": 2,
        "failed": 2,
        "automatic": 2,
        "manual": 3,
        "dry_run": 1,
        "success_rate": 0.5,
    }
    assert report["follow_ups"] == {"total": 4, "open": 3, "overdue": 1}


def test_the_report_agrees_with_each_draft(db):
    generate()
    with session_scope() as session:
        report = incident_report(session, SINCE, UNTIL)
        ids = session.exec(
            select(Incident.id).where(Incident.declared_at >= SINCE, Incident.declared_at < UNTIL)
        ).all()
        drafts = [build_draft(session, i, now=UNTIL) for i in ids if i is not None]
    assert report["mtta"] == spread([d.metrics.time_to_acknowledge for d in drafts])
    assert report["mttm"] == spread([d.metrics.time_to_mitigate for d in drafts])
    assert report["mttr"] == spread([d.metrics.time_to_resolve for d in drafts])
    assert sorted(d.worst_severity for d in drafts) == ["SEV1", "SEV2", "SEV2", "SEV3", "SEV4"]


def test_an_empty_window_has_no_figures(db):
    with session_scope() as session:
        report = incident_report(session, SINCE, UNTIL)
    assert report["incidents"] == 0 and report["mttr"] == {"median": None, "p90": None, "n": 0}
    assert report["remediation"]["success_rate"] is None
    assert "| Time to resolve | — | — | 0 |" in report_markdown(report)


def test_the_markdown_report_is_a_short_table(db):
    generate()
    with session_scope() as session:
        text = report_markdown(incident_report(session, SINCE, UNTIL))
    assert text.startswith("# Incidents report, 2026-04-01 to 2026-04-08\n")
    assert "5 incidents declared (worst severity reached: SEV1: 1, SEV2: 2, SEV3: 1, SEV4: 1)." in text
    assert "| Time to acknowledge | 0 s | 10 min | 5 |" in text
    assert "| Time to mitigate | 4 min | 30 min | 4 |" in text
    assert "| Time to resolve | 15 min | 1 h | 4 |" in text
    assert "success rate 50%" in text and "- Follow-ups: 4, 3 open, 1 overdue" in text
    assert "- Remediation runs: 5 (2 automatic, 3 asked for by people, 1 dry run);" in text
    # 2026-04-01 is a Wednesday: the window's two weeks start on the Mondays before and after it
    assert "| 2026-03-30 | 5 | 1 | 2 | 1 | 1 | 0 s | 4 min | 15 min | 5 | 50% |" in text
    assert "| 2026-04-06 | 0 | 0 | 0 | 0 | 0 | — | — | — | 0 | — |" in text
