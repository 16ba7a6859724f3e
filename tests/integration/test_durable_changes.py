"""A change command survives a crash after its ack, and its messages reach the room and the
broadcast exactly once, even when the process dies between posting and recording the post."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.flows.changes import record_command
from bot.jobs import faults
from bot.jobs.dispatcher import LEASE
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings
from storage.models import Incident, Job, TimelineEvent
from storage.session import in_session, session_scope


def declare(warroom: LocalWarroom) -> str:
    warroom.command("declare sev3 Checkout returns 500s")
    warroom.settle()
    with session_scope() as session:
        channel = session.exec(select(Incident)).one().channel_id
    assert channel is not None
    warroom.sim.clear_calls()
    return channel


def posts(warroom: LocalWarroom, channel: str, saying: str) -> list[str]:
    return [m["text"] for m in warroom.sim.channel(channel)["messages"] if saying in m["text"]]


def test_a_command_acknowledged_before_a_crash_is_carried_out_after_the_restart(simulator, db):
    first = LocalWarroom(simulator, local_settings(simulator, db))
    room = declare(first)
    first.stop()
    # What the ack path of a process that died right after answering Slack left behind:
    command = {
        "user_id": "U0ALICE",
        "team_id": simulator.team_id,
        "channel_id": room,
        "response_url": simulator.response_url("sev"),
        "trigger_id": "1.2.crash",
    }
    assert in_session(record_command, "sev", "1", None, command)
    restarted = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        restarted.settle()
        with session_scope() as session:
            assert session.exec(select(Incident)).one().severity == 1
        assert len(posts(restarted, room, "changed the severity from SEV3")) == 1
        assert len(posts(restarted, BROADCAST, "SEV3 to")) == 1
        assert {job.state for job in in_session(lambda s: list(s.exec(select(Job))))} == {"done"}
    finally:
        restarted.stop()


@pytest.mark.parametrize("point", ["change.committed", "outcome.shown"])
def test_a_crash_at_either_step_of_a_change_shows_it_exactly_once(warroom, clock, point):
    room = declare(warroom)
    faults.arm(point)
    warroom.command("update Rolled back; error rate falling", channel=room)
    warroom.settle()
    clock.at += LEASE + timedelta(seconds=1)  # the dead owner's lease runs out; it is taken over
    warroom.deps.jobs.wake()
    warroom.settle()
    assert len(posts(warroom, room, "Rolled back")) == 1
    assert len(posts(warroom, BROADCAST, "Rolled back")) == 1
    assert {job.state for job in in_session(lambda s: list(s.exec(select(Job))))} == {"done"}
    if point == "outcome.shown":
        looked = warroom.sim.calls_to("conversations.history")
        history = [call for call in looked if call.args.get("include_all_metadata")]
        assert history, "the takeover looked for its posts before posting"


def test_a_note_crashed_after_it_was_added_is_on_the_timeline_once_and_confirmed(warroom, clock):
    room = declare(warroom)
    faults.arm("note.added")
    warroom.command("note Deploy 4512 started", channel=room)
    warroom.settle()
    clock.at += LEASE + timedelta(seconds=1)
    warroom.deps.jobs.wake()
    warroom.settle()
    notes = in_session(lambda s: list(s.exec(select(TimelineEvent).where(TimelineEvent.kind == "note"))))
    assert [note.text for note in notes] == ["Deploy 4512 started"]
    assert any("Added to the timeline" in call.args["text"] for call in warroom.sim.calls_to("response_url"))
