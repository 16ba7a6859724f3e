"""Warroom serves its own workspace only, stops cleanly when Slack takes its access away, waits
on a slow Slack only so long, and answers health probes from what it already knows."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest
from sqlmodel import func, select

from bot.adapters.slack import SlackGateway, SlackTooSlow
from bot.flows.reminders import send_due_reminders
from bot.scheduler import while_slack_works
from bot.simulator import Call, SlackSimulator
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.sender import SlackSender
from storage.models import Incident
from storage.session import session_scope


def incidents() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(Incident)).one()


def probe(warroom: LocalWarroom, path: str) -> httpx.Response:
    return httpx.get(f"{warroom.server.url}{path}", timeout=5)


def event(warroom: LocalWarroom, kind: str, **fields: object) -> httpx.Response:
    body = {
        "token": "unused",
        "team_id": warroom.sim.team_id,
        "api_app_id": "A0WARROOM",
        "type": "event_callback",
        "event_id": f"Ev{kind}{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "event": {"type": kind, **fields},
    }
    return warroom.person.post(json.dumps(body).encode(), "application/json")


def test_health_probes_answer_from_state_without_calling_slack(warroom):
    warroom.sim.clear_calls()
    live, ready = probe(warroom, "/healthz"), probe(warroom, "/readyz")
    assert (live.status_code, live.json()) == (200, {"ok": True, "process": "ok", "database": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"ok": True, "database": "ok", "slack": "ok", "scheduler": "ok"}
    warroom.sim.set_latency(5)  # Slack hangs: the probes still answer, and ask Slack nothing
    assert probe(warroom, "/readyz").status_code == 200
    assert warroom.sim.calls == []


def test_the_first_request_after_start_does_not_wait_on_auth_test(warroom):
    warroom.sim.clear_calls()
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    methods = [call.method for call in warroom.sim.calls]
    assert "conversations.create" in methods and "auth.test" not in methods


def test_a_signed_request_for_another_workspace_is_refused_and_changes_nothing(warroom, caplog):
    stranger = SlackSender(warroom.person.events_url, warroom.person.secret, team_id="T0OTHER")
    warroom.sim.clear_calls()
    with caplog.at_level(logging.WARNING):
        answers = [stranger.command("declare sev1 Forged", response_url="") for _ in range(2)]
    warroom.settle()
    assert [answer.status_code for answer in answers] == [401, 401]
    assert incidents() == 0 and warroom.sim.calls == []
    assert sum("T0OTHER" in record.getMessage() for record in caplog.records) == 1  # logged once


def test_a_request_for_another_app_is_refused(warroom):
    body = warroom.person.command_body("declare sev1 Forged").replace(b"A0WARROOM", b"A0OTHERAPP")
    answer = warroom.person.post(body, "application/x-www-form-urlencoded")
    warroom.settle()
    assert answer.status_code == 401 and incidents() == 0


def test_a_revoked_token_stops_posting_and_the_next_command_is_told(warroom):
    warroom.sim.fail("conversations.create", "token_revoked")
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    ready = probe(warroom, "/readyz")
    assert ready.status_code == 503 and ready.json()["slack"] == "Slack access lost: token_revoked"
    warroom.sim.clear_calls()
    answer = warroom.command("declare sev2 Search is slow")
    warroom.settle()
    assert "lost its access to Slack (token_revoked)" in answer.json()["text"]
    assert "nothing was changed" in answer.json()["text"]
    assert incidents() == 1 and warroom.sim.calls == []


def test_after_an_uninstall_no_reminder_is_claimed_and_a_restart_with_a_good_token_sends_it(
    warroom, simulator, db, clock
):
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    assert event(warroom, "app_uninstalled").status_code == 200
    assert probe(warroom, "/readyz").json()["slack"] == "Slack access lost: app_uninstalled"
    warroom.sim.clear_calls()
    clock.minutes(31)
    asyncio.run(while_slack_works(warroom.deps, send_due_reminders)())
    assert warroom.sim.calls == []
    warroom.stop()
    restarted = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        asyncio.run(send_due_reminders(restarted.deps, clock.now()))  # or its scheduler did, at start
        deadline = time.monotonic() + 5
        while not reminders(simulator) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reminders(simulator)) == 1
        assert probe(restarted, "/readyz").status_code == 200
    finally:
        restarted.stop()


def reminders(simulator: SlackSimulator) -> list[Call]:
    return [c for c in simulator.calls_to("chat.postMessage") if "no status update" in c.args["text"]]


def test_slack_failing_makes_warroom_unready_until_slack_answers_again(warroom):
    warroom.sim.fail("conversations.create", "internal_error")
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    ready = probe(warroom, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["slack"] == "Slack failing: conversations.create: internal_error"
    warroom.command("declare sev2 Search is slow")
    warroom.settle()
    assert probe(warroom, "/readyz").status_code == 200


def test_a_rate_limit_longer_than_the_deadline_fails_the_call_at_once(simulator):
    slack = SlackGateway(simulator.token, simulator.base_url)
    simulator.rate_limit("chat.postMessage", retry_after=60)
    started = time.monotonic()
    with pytest.raises(SlackTooSlow) as failed:
        asyncio.run(slack.post("C0GENERAL", "hello"))
    assert time.monotonic() - started < 10  # did not sleep the minute Slack asked for
    assert failed.value.user_message.startswith("Slack is too slow right now (chat.postMessage")
    simulator.rate_limit("chat.postMessage", retry_after=1)
    assert asyncio.run(slack.post("C0GENERAL", "hello"))  # a short wait is waited out
    assert [call.ok for call in simulator.calls_to("chat.postMessage")] == [False, False, True]


def test_a_form_opens_while_every_worker_slot_is_busy(simulator, db):
    warroom = LocalWarroom(simulator, local_settings(simulator, db, warroom_workers=1))
    try:
        simulator.rate_limit("conversations.create", retry_after=2)  # the one slot waits 2 s
        warroom.command("declare sev2 Checkout returns 500s")
        warroom.command("declare")
        warroom.settle()
        [form] = simulator.calls_to("views.open")
        created = [call for call in simulator.calls_to("conversations.create") if call.ok]
        assert form.ok and form.at < created[0].at
    finally:
        warroom.stop()
