"""The postmortem draft of scripted incidents, on SQLite and on Postgres (DATABASE_URL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.incidents.changes import Context, change_severity, change_status, close_incident
from bot.incidents.errors import IncidentNotFound
from bot.incidents.permissions import Actor
from bot.incidents.roles import assign_role
from bot.incidents.rules import Declaration, Role, Severity, Status
from bot.incidents.service import declare_incident, record_event
from bot.postmortem.draft import build_draft
from bot.postmortem.models import Draft
from bot.postmortem.render import draft_json, draft_markdown, headline
from storage.models import (
    Alert,
    FollowUp,
    Incident,
    PostmortemReview,
    RemediationRun,
    RemediationVote,
    RoleAssignment,
    TimelineEvent,
    table,
)
from storage.session import session_scope

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=3)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ctx(user: str, minutes: float) -> Context:
    return Context(actor=Actor(user), at=at(minutes), admins=[])


def declare(
    session, *, by: str = "U0ALICE", severity: Severity = Severity.SEV3, when: datetime = T0
) -> Incident:
    declaration = Declaration(title="Checkout returns 500s", severity=severity, summary="Card payments fail.")
    incident, _ = declare_incident(session, declaration, by=by, at=when, key=f"k-{by}-{when.isoformat()}")
    return incident


def add_run(session, incident_id: int, n: int, *, state: str, start: float, end: float, **extra) -> int:
    fields = {
        "incident_id": incident_id,
        "request_key": f"run-{incident_id}-{n}",
        "playbook_id": "checkout",
        "action_id": "restart-checkout",
        "label": "Restart checkout",
        "target": "checkout deployment",
        "risk": "medium",
        "params": {"replicas": 3},
        "binding": "b",
        "state": state,
        "required_approvals": 1,
        "requested_by": "U0BOB",
        "requested_at": at(start),
        "expires_at": at(start + 15),
        "dispatched_at": at(start + 1),
        "finished_at": at(end),
        **extra,
    }
    run = RemediationRun(**fields)
    session.add(run)
    session.flush()
    assert run.id is not None
    return run.id


def vote(session, run_id: int, voter: str, minutes: float, approve: bool = True) -> None:
    session.add(RemediationVote(run_id=run_id, voter_id=voter, approve=approve, at=at(minutes)))


@pytest.fixture
def scripted(db) -> int:
    """INC-1: alice declares SEV3, hands IC to bob at +2m; bob raises to SEV1 at +5m; a restart
    fails at +9m and a second one (approved by carol and dave) succeeds at +20m; a scale-up is
    rejected by carol; monitoring at +18m, resolved at +41m, closed at +50m; a review, a follow-up."""
    with session_scope() as session:
        incident = declare(session)
        assert incident.id is not None
        iid = incident.id
        assign_role(session, iid, Role.COMMANDER, "U0BOB", ctx("U0ALICE", 2))
        change_severity(session, iid, Severity.SEV1, ctx("U0BOB", 5))
        record_event(session, incident, "note", at=at(6), actor_id="U0CAROL", text="pods | crash\nlooping")
        failed = add_run(session, iid, 1, state="failed", start=6, end=9, outcome="exit status 1")
        vote(session, failed, "U0CAROL", 6.5)
        rejected = add_run(
            session, iid, 2, state="rejected", start=7, end=7.5, action_id="scale-up", label="Scale up"
        )
        vote(session, rejected, "U0CAROL", 7.5, approve=False)
        worked = add_run(session, iid, 3, state="succeeded", start=12, end=20, outcome="restarted 3 pods")
        vote(session, worked, "U0CAROL", 12.5)
        vote(session, worked, "U0DAVE", 13)
        change_status(session, iid, Status.MONITORING, ctx("U0BOB", 18), "error rate back to normal")
        change_status(session, iid, Status.RESOLVED, ctx("U0BOB", 41), "restart fixed it")
        close_incident(session, iid, ctx("U0BOB", 50))
        session.add(
            PostmortemReview(
                incident_id=iid,
                customer_impact="Card payments failed for EU customers",
                detection="Alice saw 500s on the checkout dashboard",
                users_affected=1200,
                impact_minutes=41,
                lost_business="about 300 orders",
                root_cause="A bad config push exhausted the connection pool",
                fix_kind="stopgap",
                given_by="U0BOB",
                given_at=at(50),
            )
        )
        session.add(
            FollowUp(
                incident_id=iid,
                request_key="fu-1",
                text="Alert on checkout 5xx rate",
                owner_id="U0CAROL",
                due_on=date(2026, 3, 16),
                created_by="U0BOB",
                created_at=at(50),
            )
        )
    return iid


def draft_of(incident_id: int) -> Draft:
    with session_scope() as session:
        return build_draft(session, incident_id, now=NOW)


def test_the_draft_holds_what_was_recorded_field_by_field(scripted):
    draft = draft_of(scripted)
    assert (draft.ref, draft.title, draft.summary) == (
        "INC-1",
        "Checkout returns 500s",
        "Card payments fail.",
    )
    assert (draft.severity, draft.worst_severity, draft.status, draft.private) == (
        "SEV1",
        "SEV1",
        "closed",
        False,
    )
    assert (draft.declared_by, draft.declared_at, draft.resolved_at, draft.closed_at) == (
        "U0ALICE",
        T0,
        at(41),
        at(50),
    )
    assert [(s.severity, s.at, s.by) for s in draft.severity_history] == [
        ("SEV3", T0, "U0ALICE"),
        ("SEV1", at(5), "U0BOB"),
    ]
    assert [(s.status, s.at, s.by) for s in draft.status_history] == [
        ("investigating", T0, "U0ALICE"),
        ("monitoring", at(18), "U0BOB"),
        ("resolved", at(41), "U0BOB"),
        ("closed", at(50), "U0BOB"),
    ]
    assert draft.status_history[1].summary == "error rate back to normal"
    assert [(r.role, r.user_id, r.assigned_by, r.assigned_at, r.relieved_at) for r in draft.roles] == [
        ("commander", "U0ALICE", "U0ALICE", T0, at(2)),
        ("commander", "U0BOB", "U0ALICE", at(2), None),
    ]
    assert draft.ic_handovers == 1


def test_runs_show_who_approved_and_who_rejected(scripted):
    runs = draft_of(scripted).remediation
    assert [(r.action_id, r.state, r.approvers, r.rejecters) for r in runs] == [
        ("restart-checkout", "failed", ["U0CAROL"], []),
        ("scale-up", "rejected", [], ["U0CAROL"]),
        ("restart-checkout", "succeeded", ["U0CAROL", "U0DAVE"], []),
    ]
    worked = runs[2]
    assert (worked.requested_by, worked.params, worked.outcome) == (
        "U0BOB",
        {"replicas": 3},
        "restarted 3 pods",
    )
    assert (worked.requested_at, worked.dispatched_at, worked.finished_at) == (at(12), at(13), at(20))
    assert (worked.automatic, worked.dry_run, worked.playbook_id, worked.target) == (
        False,
        False,
        "checkout",
        "checkout deployment",
    )


def test_metrics_count_from_the_declaration_when_a_person_declared(scripted):
    m = draft_of(scripted).metrics
    assert (m.started_at, m.acknowledged_at, m.mitigated_at, m.resolved_at) == (T0, T0, at(18), at(41))
    assert (m.time_to_detect, m.time_to_acknowledge, m.time_to_mitigate, m.time_to_resolve) == (
        None,
        0,
        18 * 60,
        41 * 60,
    )
    assert m.time_in_severity == {"SEV1": 36 * 60, "SEV3": 5 * 60}


def test_impact_and_detection_come_from_the_review(scripted):
    draft = draft_of(scripted)
    impact = draft.impact
    assert impact.given and impact.note == ""
    assert (impact.users_affected, impact.impact_minutes, impact.lost_business, impact.fix_kind) == (
        1200,
        41,
        "about 300 orders",
        "stopgap",
    )
    assert impact.root_cause == "A bad config push exhausted the connection pool"
    detection = draft.detection
    assert (detection.method, detection.alert_fired, detection.first_alert) == ("person", False, None)
    assert detection.in_their_words == "Alice saw 500s on the checkout dashboard"
    assert detection.summary == "Detected by a person: U0ALICE declared it; no alert fired."


def test_only_the_questions_whose_facts_hold_are_asked(scripted):
    assert draft_of(scripted).questions == [
        "No alert fired for INC-1: what monitoring would have caught it?",
        "INC-1 was declared SEV3 and raised to SEV1 5 min later: "
        "what would have shown the real severity sooner?",
        "restart-checkout ran 2 times: what would make it unnecessary?",
        "restart-checkout failed: why, and what should its runbook say?",
        "The fix was a stopgap: what is the permanent fix, and who owns it?",
    ]


def test_headline_is_one_plain_line(scripted):
    assert headline(draft_of(scripted)) == (
        "SEV1 · acknowledged at declaration · mitigated in 18 min · resolved in 41 min · "
        "3 runs · 1 follow-up · 5 questions"
    )


def test_timeline_lists_every_event_in_order(scripted):
    timeline = draft_of(scripted).timeline
    assert [e.kind for e in timeline] == [
        "declared",
        "role_assigned",
        "severity_changed",
        "note",
        "status_changed",
        "status_changed",
        "closed",
    ]
    assert (timeline[3].at, timeline[3].actor_id, timeline[3].text) == (
        at(6),
        "U0CAROL",
        "pods | crash\nlooping",
    )


def test_markdown_has_each_section_and_escapes_table_cells(scripted):
    text = draft_markdown(draft_of(scripted))
    for heading in (
        "# INC-1: Checkout returns 500s",
        "## Summary",
        "## Impact",
        "## Detection",
        "## Metrics",
        "## Severity and status",
        "## Roles",
        "## Remediation",
        "## Timeline",
        "## Follow-ups",
        "## Questions for the review",
    ):
        assert f"\n{heading}\n" in f"\n{text}"
    assert "| 2026-03-02 09:06:00 | note | U0CAROL | pods \\| crash<br>looping |" in text
    assert "| Time to resolve | 41 min |" in text
    assert "| Time at SEV1 | 36 min |" in text
    assert "| 2026-03-02 09:05:00 | SEV1 | U0BOB |" in text
    assert "| commander | U0BOB | 2026-03-02 09:02:00 | 2026-03-02 09:50:00 | U0ALICE |" in text
    assert "### Restart checkout (`checkout/restart-checkout`): succeeded" in text
    assert "- Approved by: U0CAROL, U0DAVE" in text
    assert '- Parameters: `{"replicas": 3}`' in text
    assert "- Lost orders or revenue: about 300 orders" in text
    assert "- [ ] Alert on checkout 5xx rate (U0CAROL, due 2026-03-16)" in text
    assert "1. No alert fired for INC-1: what monitoring would have caught it?" in text


def test_json_round_trips_with_utc_iso_times(scripted):
    draft = draft_of(scripted)
    text = draft_json(draft)
    assert Draft.model_validate_json(text) == draft
    data = json.loads(text)
    assert data["declared_at"] == "2026-03-02T09:00:00Z"
    assert data["metrics"]["time_to_resolve"] == 2460
    assert data["follow_ups"][0]["due_on"] == "2026-03-16"
    assert set(data) >= {"impact", "detection", "metrics", "roles", "remediation", "timeline", "questions"}


def test_an_unknown_incident_is_not_found(db):
    with pytest.raises(IncidentNotFound), session_scope() as session:
        build_draft(session, 999, now=NOW)


def link_alert(session, incident_id: int, *, first_seen: datetime, acknowledged: datetime | None) -> None:
    session.add(
        Alert(
            dedup_key=f"alert-{incident_id}",
            pd_incident_id="PD1",
            service_name="checkout",
            title="Checkout 5xx above 5%",
            urgency="high",
            incident_id=incident_id,
            first_seen_at=first_seen,
            last_seen_at=first_seen,
            acknowledged_at=acknowledged,
        )
    )


@pytest.mark.parametrize(("ack", "note", "tta"), [(4, 2, 5 * 60), (1, 2, 4 * 60), (None, 2, 5 * 60)])
def test_an_alert_first_incident_counts_from_the_alert(db, ack, note, tta):
    """Warroom declared from an alert seen 3 min earlier; the first of the alert's acknowledgement
    and a person acting on the incident is the acknowledgement."""
    with session_scope() as session:
        incident = declare(session, by="U0WARROOM", severity=Severity.SEV2)
        assert incident.id is not None
        link_alert(session, incident.id, first_seen=at(-3), acknowledged=at(ack) if ack else None)
        record_event(session, incident, "alert", at=T0, text="PagerDuty alert: Checkout 5xx above 5%")
        record_event(session, incident, "channel_created", at=at(0.5), text="War room opened")
        record_event(session, incident, "note", at=at(note), actor_id="U0ALICE", text="looking")
        iid = incident.id
    draft = draft_of(iid)
    assert draft.detection.method == "alert"
    assert draft.detection.time_to_detect == 180 and draft.metrics.time_to_detect == 180
    assert draft.detection.first_alert is not None
    assert draft.detection.first_alert.service_name == "checkout"
    assert draft.metrics.started_at == at(-3)
    assert draft.metrics.time_to_acknowledge == tta
    assert draft.metrics.time_to_resolve is None and draft.metrics.time_in_severity == {"SEV2": 3 * 3600}
    assert "Detected by an alert: Checkout 5xx above 5% on checkout" in draft.detection.summary
    assert "No alert fired" not in " ".join(draft.questions)
    assert draft.impact.note == "not given at close"
    assert "not resolved" in headline(draft)


def test_a_person_ahead_of_the_alert_is_asked_which_alert_should_have_fired(db):
    with session_scope() as session:
        incident = declare(session)
        assert incident.id is not None
        link_alert(session, incident.id, first_seen=at(14), acknowledged=None)
        iid = incident.id
    draft = draft_of(iid)
    assert (draft.detection.method, draft.detection.person_ahead_of_alert) == ("person", 14 * 60)
    assert draft.metrics.time_to_acknowledge == 0 and draft.metrics.started_at == T0
    assert (
        draft.questions[0]
        == "INC-1 was detected by a person 14 min before any alert: which alert should have fired?"
    )


def test_slow_acknowledgement_handovers_and_unowned_follow_ups_are_asked_about(db):
    with session_scope() as session:
        incident = declare(session, by="U0WARROOM")
        assert incident.id is not None
        iid = incident.id
        link_alert(session, iid, first_seen=T0, acknowledged=None)
        handovers = ((20, "U0WARROOM", "U0A"), (30, "U0A", "U0B"), (40, "U0B", "U0C"))
        for minutes, old, new in handovers:
            record_event(
                session,
                incident,
                "role_assigned",
                at=at(minutes),
                actor_id=old if old != "U0WARROOM" else new,
                data={"role": "commander", "from": old, "to": new},
            )
            session.add(
                RoleAssignment(
                    incident_id=iid, role="commander", user_id=new, assigned_by=new, assigned_at=at(minutes)
                )
            )
        for n in range(2):
            session.add(
                FollowUp(
                    incident_id=iid,
                    request_key=f"fu-{n}",
                    text=f"Thing {n}",
                    created_by="U0A",
                    created_at=at(60),
                )
            )
    questions = draft_of(iid).questions
    assert "INC-1 was acknowledged 20 min after it started: what delayed the first response?" in questions
    assert (
        "The incident commander changed 3 times: was each hand-over clear, and what context was lost?"
        in questions
    )
    assert "2 follow-ups have no owner: who owns them?" in questions
    assert "No impact was recorded when INC-1 closed: who was affected, and for how long?" in questions


def test_the_automatic_stopgap_is_asked_about(db):
    with session_scope() as session:
        incident = declare(session)
        assert incident.id is not None
        iid = incident.id
        add_run(session, iid, 1, state="succeeded", start=1, end=3, automatic=True, required_approvals=0)
        add_run(session, iid, 2, state="timed_out", start=4, end=9, action_id="flush-cache")
        session.add(
            PostmortemReview(
                incident_id=iid,
                customer_impact="",
                detection="",
                root_cause="",
                fix_kind="stopgap",
                given_by="U0ALICE",
                given_at=at(60),
            )
        )
    draft = draft_of(iid)
    assert draft.metrics.time_to_mitigate == 180  # the automatic restart finished at +3m
    assert "The automatic fix was a stopgap: what is the permanent fix, and who owns it?" in draft.questions
    assert "flush-cache timed out: why, and what should its runbook say?" in draft.questions
    assert (
        "No follow-ups were recorded for INC-1: what should change so it does not recur?" in draft.questions
    )


def test_ten_thousand_events_build_and_render(db):
    with session_scope() as session:
        incident = declare(session)
        iid = incident.id
        rows = [
            {
                "incident_id": iid,
                "at": T0 + timedelta(seconds=n + 1),
                "kind": "note",
                "actor_id": f"U{n % 7}",
                "text": f"note {n} | with a pipe",
                "data": {},
            }
            for n in range(9_999)
        ]
        session.execute(insert(table(TimelineEvent)), rows)
    draft = draft_of(iid)
    assert len(draft.timeline) == 10_000
    text = draft_markdown(draft)
    assert text.count("\n| 2026-03-02 ") >= 10_000
    assert "| note 9998 \\| with a pipe |" in text
    assert len(json.loads(draft_json(draft))["timeline"]) == 10_000
