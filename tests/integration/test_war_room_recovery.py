"""When Slack fails midway the declarer is told, and a restart finishes the room without repeats."""

from __future__ import annotations

from sqlmodel import select

from bot.simulator.harness import LocalWarroom
from storage.models import Incident
from storage.session import session_scope


def only_incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def test_a_slack_refusal_is_told_to_the_declarer_and_logged(warroom, caplog):
    warroom.sim.fail("conversations.create", "restricted_action")
    ack = warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    assert ack.json()["text"].startswith("Declaring INC-1")
    [told] = warroom.sim.calls_to("response_url")
    assert told.args["response_type"] == "ephemeral"
    assert "Slack refused conversations.create: restricted_action" in told.args["text"]
    assert "restricted_action" in caplog.text
    assert only_incident().room_ready_at is None


def test_a_restart_finishes_a_half_open_room_without_a_second_channel_or_card(warroom, simulator):
    warroom.sim.fail("pins.add", "internal_error")
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    half_open = only_incident()
    assert half_open.card_ts and half_open.room_ready_at is None
    warroom.stop()

    restarted = LocalWarroom(simulator, warroom.settings)
    try:
        restarted.settle()
    finally:
        restarted.stop()
    finished = only_incident()
    assert finished.room_ready_at is not None
    channel = simulator.channel(finished.channel_id)
    assert len(simulator.calls_to("conversations.create")) == 1
    cards = [m["ts"] for m in channel["messages"] if not m["text"].startswith("Runbook:")]
    assert cards == [half_open.card_ts]
    assert channel["pins"] == [half_open.card_ts]
    assert len(simulator.channel("C0BROADCAST")["messages"]) == 1


def test_rate_limited_calls_are_retried_after_retry_after(warroom):
    warroom.sim.rate_limit("chat.postMessage", retry_after=1, times=1)
    warroom.command("declare sev3 Search slow")
    warroom.settle()
    incident = only_incident()
    assert incident.room_ready_at is not None
    posts = warroom.sim.calls_to("chat.postMessage")
    assert [call.ok for call in posts].count(True) == 2  # the card and the broadcast, once each
    assert len(warroom.sim.channel(incident.channel_id)["messages"]) == 1
