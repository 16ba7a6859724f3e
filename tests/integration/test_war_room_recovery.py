"""When Slack refuses a step the declarer is told, and when the process dies midway the next one
finishes the room without repeats."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.jobs import faults
from bot.jobs.dispatcher import LEASE
from bot.simulator.harness import LocalWarroom
from storage.models import Incident, Job
from storage.session import in_session, session_scope


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
    assert told.args["text"].startswith(
        "The war room of INC-1 could not be opened (Slack refused conversations.create: restricted_action)."
    )
    assert "`warroom jobs retry" in told.args["text"]
    assert "restricted_action" in caplog.text
    assert only_incident().room_ready_at is None
    [job] = in_session(lambda s: list(s.exec(select(Job).where(Job.kind != "schedule"))))
    assert (job.kind, job.state) == ("room.open", "failed")


def test_a_room_whose_process_died_is_finished_by_the_next_without_a_second_channel_or_card(
    warroom, simulator, clock
):
    faults.arm("rooms.pinned")  # the process "dies" right after pinning the card
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    half_open = only_incident()
    assert half_open.channel_id and half_open.room_ready_at is None
    warroom.stop()

    clock.at += LEASE + timedelta(seconds=1)
    restarted = LocalWarroom(simulator, warroom.settings)
    try:
        restarted.settle()
    finally:
        restarted.stop()
    finished = only_incident()
    assert finished.room_ready_at is not None and finished.channel_id == half_open.channel_id
    channel = simulator.channel(finished.channel_id)
    # stopping gave the job back as a retry, so the next process looked first and adopted it
    assert [call.ok for call in simulator.calls_to("conversations.create")] == [True]
    cards = [m["ts"] for m in channel["messages"] if not m["text"].startswith("Runbook:")]
    assert cards == [finished.card_ts]
    assert channel["pins"] == [finished.card_ts]
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
