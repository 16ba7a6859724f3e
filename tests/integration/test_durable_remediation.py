"""A run survives a crash at every step boundary: the action is sent at most once unless it is
idempotent (else the run ends "unknown" and the room is told), announced once and reported once;
a second replica starting meanwhile leaves the run alone; every open state ends at its deadline
with a line in the room, after which *Run* works again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.jobs import faults
from bot.jobs.dispatcher import LEASE
from bot.simulator.automation import AutomationEndpoint
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Job, RemediationRun, table
from storage.session import in_session, session_scope

PLAYBOOK = """---
id: checkout
title: Checkout broken
match:
  keywords: [checkout]
actions:
  - id: restart
    label: Restart checkout
    kind: webhook
    url: http://{host}/restart
    target: checkout pods
    risk: low
    requesters: [ic, ops]
    idempotent: {idempotent}
  - id: rollback
    label: Roll back checkout
    kind: webhook
    url: http://{host}/rollback
    params:
      release: {{pattern: "^v[0-9]{{1,4}}$", max_length: 6}}
    target: checkout deployment
    risk: medium
    approvers: [ic, ops]
---
Steps.
"""
ANNOUNCED = ":arrow_forward: Running *Restart checkout*"
REPORTED = re.compile(r"\*Restart checkout\* (succeeded|failed|timed out|unknown) in ")


@pytest.fixture
def endpoint():
    server = AutomationEndpoint()
    server.start()
    yield server
    server.stop()


def start(simulator, db, tmp_path, endpoint, idempotent: bool = False) -> LocalWarroom:
    books = tmp_path / "books"
    books.mkdir(exist_ok=True)
    (books / "checkout.md").write_text(
        PLAYBOOK.format(host=endpoint.host, idempotent=str(idempotent).lower())
    )
    settings = local_settings(
        simulator,
        db,
        warroom_playbooks_dir=books,
        warroom_remediation_hosts=[endpoint.host],
        warroom_remediation_http_hosts=["127.0.0.1"],
    )
    return LocalWarroom(simulator, settings)


@pytest.fixture
def app(clock, simulator, db, tmp_path, endpoint):
    warroom = start(simulator, db, tmp_path, endpoint)
    warroom.command("declare sev2 Checkout is down")
    warroom.settle()
    yield warroom
    warroom.stop()


def room(app: LocalWarroom) -> str:
    return app.sim.channel_by_name("inc-1-checkout-is-down")["id"]


def press_run(app: LocalWarroom, trigger: str = "1") -> None:
    app.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": f"4.4.{trigger}",
            "channel": {"id": room(app)},
            "container": {"type": "message", "message_ts": "1.1", "channel_id": room(app)},
            "actions": [
                {
                    "action_id": "remediation.run.restart",
                    "block_id": "b",
                    "type": "button",
                    "value": "checkout/restart",
                    "action_ts": f"1.{trigger}",
                }
            ],
        }
    )


def said(app: LocalWarroom, starting: str) -> list[str]:
    return [m["text"] for m in app.sim.channel(room(app))["messages"] if m["text"].startswith(starting)]


def reports(app: LocalWarroom) -> list[str]:
    return [text for text in said(app, ":") if REPORTED.search(text)]


def runs() -> list[RemediationRun]:
    with session_scope() as session:
        return list(session.exec(select(RemediationRun).order_by(RemediationRun.id)))


def take_over(app: LocalWarroom, clock, after: timedelta = LEASE + timedelta(seconds=1)) -> None:
    """The crashed owner's lease (or a deadline) runs out; the jobs due then run."""
    clock.at += after
    app.deps.jobs.wake()
    app.settle()


def give_up_dispatch() -> None:
    """As if the dispatch job had run out of attempts (Slack refusing it all along)."""
    jobs = table(Job)
    with session_scope() as session:
        session.execute(
            update(jobs).where(jobs.c.kind == "remediation.dispatch").values(state="failed", lease_owner=None)
        )


@pytest.mark.parametrize(
    ("point", "sent", "state"),
    [
        ("remediation.requested", 1, "succeeded"),
        ("remediation.dispatching", 1, "succeeded"),
        ("remediation.announced", 1, "succeeded"),
        ("remediation.sending", 0, "unknown"),  # intent recorded: it may have gone out, nobody knows
        ("remediation.sent", 1, "unknown"),
        ("remediation.recorded", 1, "succeeded"),
        ("remediation.reported", 1, "succeeded"),
    ],
)
def test_a_crash_at_any_step_sends_at_most_once_announces_once_and_reports_once(
    app, endpoint, clock, point, sent, state
):
    faults.arm(point)
    press_run(app)
    app.settle()
    take_over(app, clock)
    assert [hit.idempotency_key for hit in endpoint.hits] == ["warroom-run-1"] * sent
    assert [run.state for run in runs()] == [state]
    assert len(said(app, ANNOUNCED)) == 1
    [report] = reports(app)
    if state == "unknown":
        assert "check the target by hand" in report
    assert {job.state for job in in_session(lambda s: list(s.exec(select(Job))))} <= {"done", "queued"}


def test_an_idempotent_action_interrupted_after_sending_is_sent_again_with_the_same_key(
    clock, simulator, db, tmp_path, endpoint
):
    app = start(simulator, db, tmp_path, endpoint, idempotent=True)
    try:
        app.command("declare sev2 Checkout is down")
        app.settle()
        faults.arm("remediation.sent")
        press_run(app)
        app.settle()
        take_over(app, clock)
        assert [hit.idempotency_key for hit in endpoint.hits] == ["warroom-run-1", "warroom-run-1"]
        assert runs()[0].state == "succeeded"
        assert len(said(app, ":repeat: Warroom stopped while *Restart checkout* was being sent")) == 1
        assert len(reports(app)) == 1
    finally:
        app.stop()


def test_a_replica_starting_while_a_run_is_held_leaves_it_alone(
    clock, app, simulator, db, tmp_path, endpoint
):
    faults.arm("remediation.sent")  # the first replica holds the run's lease, mid-send
    press_run(app)
    app.settle()
    second = start(simulator, db, tmp_path, endpoint)
    try:
        second.settle()
        app.settle()
        assert [run.state for run in runs()] == ["running"] and len(endpoint.hits) == 1
        assert reports(app) == []
        take_over(second, clock)  # only once the holder stopped renewing its lease
        assert [run.state for run in runs()] == ["unknown"] and len(endpoint.hits) == 1
        assert len(reports(app)) == 1
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("point", "minutes", "state", "line"),
    [
        ("remediation.dispatching", 6, "expired", "was approved but did not start within 5 min"),
        ("remediation.announced", 6, "cancelled", "was announced but did not start within 5 min"),
        ("remediation.sent", 4, "unknown", "did not report back within 3 min; its outcome is unknown"),
    ],
)
def test_a_run_stuck_in_any_state_ends_at_its_deadline_and_run_works_again(
    app, endpoint, clock, point, minutes, state, line
):
    faults.arm(point)
    press_run(app)
    app.settle()
    give_up_dispatch()
    take_over(app, clock, timedelta(minutes=minutes))
    assert [run.state for run in runs()] == [state]
    assert len([text for text in said(app, ":") if line in text]) == 1
    press_run(app, trigger="2")
    app.settle()
    assert [run.state for run in runs()] == [state, "succeeded"]
    assert endpoint.hits[-1].idempotency_key == "warroom-run-2"


def test_a_deadline_never_ends_a_run_its_dispatch_job_still_holds(app, endpoint, clock):
    faults.arm("remediation.sent")
    press_run(app)
    app.settle()
    take_over(app, clock, timedelta(minutes=4))  # past both the lease and the running deadline
    take_over(app, clock, timedelta(minutes=2))  # the deadline looks again
    assert [run.state for run in runs()] == ["unknown"] and len(endpoint.hits) == 1
    [report] = reports(app)
    assert "Warroom stopped while sending it" in report
    assert not [text for text in said(app, ":") if "did not report back" in text]


@pytest.mark.parametrize("point", ["remediation.requested", "remediation.offered"])
def test_a_request_crashed_before_or_after_it_was_offered_is_offered_once(app, clock, point):
    faults.arm(point)
    app.command("run rollback release=v41", channel=room(app))
    app.settle()
    take_over(app, clock)
    offered = said(app, "Roll back checkout: Waiting for approval")
    assert len(offered) == 1 and [run.state for run in runs()] == ["requested"]
    assert runs()[0].message_ts is not None


def test_a_runbook_post_crashed_after_posting_is_in_the_room_once(clock, simulator, db, tmp_path, endpoint):
    app = start(simulator, db, tmp_path, endpoint)
    try:
        faults.arm("runbooks.posted")
        app.command("declare sev2 Checkout is down")
        app.settle()
        take_over(app, clock)
        assert len(said(app, "Runbook: Checkout broken")) == 1
    finally:
        app.stop()
