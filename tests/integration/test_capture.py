"""Putting war-room messages on the timeline: the :pushpin: reaction and the message shortcut."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from storage.models import Incident, TimelineEvent
from storage.session import session_scope


@pytest.fixture
def room(warroom):
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    with session_scope() as session:
        channel = session.exec(select(Incident)).one().channel_id
    warroom.sim.add_user("U0ERIN", "erin")
    warroom.sim.clear_calls()
    return channel


def notes() -> list[TimelineEvent]:
    with session_scope() as session:
        return list(session.exec(select(TimelineEvent).where(TimelineEvent.kind == "note")))


def reaction(
    channel: str, ts: str, *, user: str = "U0BOB", name: str = "pushpin", event_id: str = "Ev1"
) -> bytes:
    return json.dumps(
        {
            "token": "unused",
            "team_id": "T0TEAM",
            "api_app_id": "A0WARROOM",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000031,
            "event": {
                "type": "reaction_added",
                "user": user,
                "reaction": name,
                "item": {"type": "message", "channel": channel, "ts": ts},
                "item_user": "U0CAROL",
                "event_ts": "1700000031.000200",
            },
        }
    ).encode()


def test_a_pushpin_puts_the_message_on_the_timeline_once(warroom, room):
    ts = warroom.sim.add_message(room, "Error rate back to 0.2% <!channel>", user="U0CAROL")
    body = reaction(room, ts)
    for retry in ("", "1", "2"):
        headers = {"x_slack_retry_num": retry, "x_slack_retry_reason": "http_timeout"} if retry else {}
        assert warroom.person.post(body, "application/json", **headers).status_code == 200
    assert (
        warroom.person.post(
            reaction(room, ts, user="U0ALICE", event_id="Ev2"), "application/json"
        ).status_code
        == 200
    )
    warroom.settle()
    [note] = notes()
    assert note.text == "Error rate back to 0.2% <!channel>" and note.data["author"] == "U0CAROL"
    assert note.actor_id in ("U0BOB", "U0ALICE") and note.data["permalink"].startswith("https://")
    warroom.command("timeline", user="U0BOB", channel=room)
    warroom.settle()
    timeline = warroom.sim.calls_to("response_url")[-1].args["blocks"][0]["text"]["text"]
    assert "|message> from <@U0CAROL>: Error rate back to 0.2% &lt;!channel&gt;" in timeline
    confirmations = warroom.sim.calls_to("chat.postEphemeral")
    assert len(confirmations) == 1 and "INC-1 timeline" in confirmations[0].args["text"]


def test_other_reactions_and_other_channels_are_ignored(warroom, room):
    ts = warroom.sim.add_message(room, "thanks", user="U0CAROL")
    warroom.person.post(reaction(room, ts, name="tada"), "application/json")
    general = warroom.sim.add_message("C0GENERAL", "lunch?", user="U0CAROL")
    warroom.person.post(reaction("C0GENERAL", general, event_id="Ev3"), "application/json")
    warroom.settle()
    assert notes() == [] and warroom.sim.calls_to("chat.postEphemeral") == []


def shortcut(channel: str, ts: str, text: str, user: str = "U0BOB") -> dict:
    return {
        "type": "message_action",
        "callback_id": "add_to_timeline",
        "trigger_id": "1.2.3",
        "team": {"id": "T0TEAM", "domain": "example"},
        "user": {"id": user, "name": "bob", "team_id": "T0TEAM"},
        "channel": {"id": channel, "name": "inc"},
        "message": {"type": "message", "user": "U0CAROL", "ts": ts, "text": text},
        "response_url": "",
        "message_ts": ts,
        "token": "unused",
        "action_ts": "1700000040.1",
    }


def test_the_shortcut_adds_a_message_and_says_so(warroom, room):
    ts = warroom.sim.add_message(room, "Rolled back to v41", user="U0CAROL")
    payload = shortcut(room, ts, "Rolled back to v41")
    payload["response_url"] = warroom.sim.response_url("shortcut")
    assert warroom.person.interaction(payload).status_code == 200
    assert warroom.person.interaction(payload).status_code == 200  # Slack retrying the same request
    warroom.settle()
    assert [(n.text, n.data["author"]) for n in notes()] == [("Rolled back to v41", "U0CAROL")]
    told = [c.args["text"] for c in warroom.sim.calls_to("response_url")]
    assert len(told) == 1 and told[0].startswith("Added <https://")


def test_the_shortcut_used_twice_adds_the_message_once_and_says_it_is_there(warroom, room):
    ts = warroom.sim.add_message(room, "Rolled back to v41", user="U0CAROL")
    for trigger in ("1.2.3", "1.2.4"):
        payload = {**shortcut(room, ts, "Rolled back to v41"), "trigger_id": trigger}
        payload["response_url"] = warroom.sim.response_url("shortcut")
        assert warroom.person.interaction(payload).status_code == 200
    warroom.settle()
    assert [n.text for n in notes()] == ["Rolled back to v41"]
    told = sorted(c.args["text"] for c in warroom.sim.calls_to("response_url"))
    assert len(told) == 2 and told[0].startswith("Added <https://")
    assert told[1] == "That message is already on the timeline."


def test_the_shortcut_outside_a_war_room_explains(warroom, room):
    ts = warroom.sim.add_message("C0GENERAL", "hello", user="U0CAROL")
    payload = shortcut("C0GENERAL", ts, "hello")
    payload["response_url"] = warroom.sim.response_url("shortcut")
    warroom.person.interaction(payload)
    warroom.settle()
    [told] = warroom.sim.calls_to("response_url")
    assert told.args["text"] == "This is not an incident war room; use the shortcut on a message in one."
    assert notes() == []
