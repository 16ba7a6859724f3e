"""Follow-ups: recorded from the command or its form, once; listed; marked done once; reminded once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.flows.followups import send_due_followups
from bot.incidents.changes import Context, close_incident, resolve_incident
from bot.incidents.permissions import Actor
from bot.simulator.harness import LocalWarroom
from bot.simulator.sender import new_trigger_id
from storage.models import FollowUp, Incident, TimelineEvent
from storage.session import session_scope
from tests.clock import T0
from tests.rooms import open_room

ALERT = "<@U0BOB|bob> Alert on queue depth <!channel> due 2026-12-01"


@pytest.fixture
def room(clock, warroom):
    """INC-1 declared by alice (its IC) at T0, its war room open, the simulator's log cleared."""
    return open_room(warroom)


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def followups() -> list[FollowUp]:
    with session_scope() as session:
        return list(session.exec(select(FollowUp).order_by(FollowUp.id)))


def events(kind: str) -> list[TimelineEvent]:
    with session_scope() as session:
        return list(session.exec(select(TimelineEvent).where(TimelineEvent.kind == kind)))


def run(warroom, text: str, *, user: str = "U0ALICE", channel: str | None = None, **options):
    """Type a command, wait for the worker; return the ack and what only the typist was told."""
    warroom.sim.clear_calls()
    ack = warroom.command(text, user=user, channel=channel or incident().channel_id, **options)
    warroom.settle()
    return ack, [call.args["text"] for call in warroom.sim.calls_to("response_url")]


def whispers(warroom) -> list[str]:
    return [call.args["text"] for call in warroom.sim.calls_to("chat.postEphemeral")]


def click(warroom, channel: str, message: dict, *, user: str = "U0ALICE", ephemeral: bool = False):
    """Press the Mark done button of `message` (as Slack shows it) in `channel`."""
    button = message["blocks"][0]["accessory"]
    container = {"type": "message", "message_ts": message.get("ts", "1.1"), "channel_id": channel}
    if ephemeral:
        container["is_ephemeral"] = True
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM"},
        "trigger_id": new_trigger_id(),  # each click its own, as in Slack
        "channel": {"id": channel},
        "container": container,
        "actions": [{**button, "block_id": "x", "action_ts": "1.1"}],
    }
    if not ephemeral:
        payload["message"] = message
    warroom.sim.clear_calls()
    assert warroom.person.interaction(payload).status_code == 200
    warroom.settle()


def test_a_followup_with_owner_and_due_date_is_posted_with_its_button_and_timelined(warroom, room):
    ack, told = run(warroom, f"followup {ALERT}")
    assert ack.status_code == 200 and ack.content == b"" and told == []
    assert warroom.slack_calls()[-1] == "chat.postMessage"
    [stored] = followups()
    assert (stored.text, stored.owner_id, str(stored.due_on), stored.created_by) == (
        "Alert on queue depth <!channel>",
        "U0BOB",
        "2026-12-01",
        "U0ALICE",
    )
    [post] = warroom.sim.calls_to("chat.postMessage")
    assert post.args["channel"] == room
    assert post.args["text"] == (
        "<@U0ALICE> added a follow-up to INC-1: Alert on queue depth &lt;!channel&gt;\n"
        "Owner <@U0BOB> · due 2026-12-01"
    )
    button = post.args["blocks"][0]["accessory"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        "followup.done",
        str(stored.id),
        "Mark done",
    )
    [added] = events("followup_added")
    assert added.actor_id == "U0ALICE" and added.data["followup_id"] == stored.id


def test_the_same_command_delivered_twice_records_one_followup(warroom, room):
    run(warroom, "followup Rotate the keys", trigger_id="1.2.same")
    _, told = run(warroom, "followup Rotate the keys", trigger_id="1.2.same")  # Slack retrying it
    assert told == []
    assert len(followups()) == 1 and warroom.slack_calls().count("chat.postMessage") == 0


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("followup <@U0BOB|bob>", "Write what should be done"),
        (
            "followup Fix it due 2026-11-01",
            "2026-11-01 is in the past: give today or a later date as YYYY-MM-DD",
        ),
        ("followup Fix it due friday", "`friday` is not a date: write the due date as YYYY-MM-DD"),
        ("followup " + "x" * 1001, "keep it to 1000"),
    ],
)
def test_a_followup_that_cannot_be_read_is_answered_at_once(warroom, room, text, answer):
    ack, _ = run(warroom, text)
    assert answer in ack.json()["text"] and ack.json()["response_type"] == "ephemeral"
    assert followups() == [] and warroom.slack_calls() == []


def test_a_bot_cannot_own_a_followup(warroom, room):
    _, told = run(warroom, "followup <@U0BOT|warroom> Rotate the keys")
    assert told == ["Bots and deactivated accounts cannot own follow-ups; name a person."]
    assert followups() == []


def test_the_form_reports_empty_text_and_past_dates_in_its_ack_then_records_once(warroom, room):
    run(warroom, "followup")
    [opened] = warroom.sim.calls_to("views.open")
    view = opened.response["view"]
    assert view["callback_id"] == "followup.add"
    assert [b.get("block_id") for b in view["blocks"][1:]] == ["text", "owner", "due"]

    def submit(text: str, due: str | None, owner: str | None = None):
        values = {
            "text": {"text": {"type": "plain_text_input", "value": text}},
            "owner": {"owner": {"type": "users_select", "selected_user": owner}},
            "due": {"due": {"type": "datepicker", "selected_date": due}},
        }
        response = warroom.person.view_submission(view, values)
        warroom.settle()
        return response

    errors = submit("  ", "2026-11-01").json()
    assert errors["response_action"] == "errors"
    assert "Write what should be done" in errors["errors"]["text"]
    assert "2026-11-01 is in the past" in errors["errors"]["due"]
    assert followups() == []
    assert submit("Write the postmortem", "2026-11-26", "U0CAROL").content == b""
    assert submit("Write the postmortem", "2026-11-26", "U0CAROL").content == b""
    [stored] = followups()
    assert (stored.owner_id, str(stored.due_on), stored.request_key) == (
        "U0CAROL",
        "2026-11-26",
        f"followup.add:{view['id']}",  # the form's job key
    )
    posts = [m for m in warroom.sim.channel(room)["messages"] if "added a follow-up" in m["text"]]
    assert len(posts) == 1 and "Owner <@U0CAROL> · due 2026-11-26" in posts[0]["text"]


def close(room: str, at: datetime) -> None:
    """Resolve and close INC-1 as its IC, through the domain (how closing is asked for may vary)."""
    ctx = Context(actor=Actor("U0ALICE"), at=at, admins=[], channel_id=room)
    with session_scope() as session:
        resolve_incident(session, incident().id, "fixed", ctx)
    with session_scope() as session:
        close_incident(session, incident().id, ctx)


def test_a_closed_incident_takes_followups_and_an_archived_room_is_told_to_the_asker(warroom, room):
    close(room, T0 + timedelta(hours=1))
    asyncio.run(warroom.deps.slack.archive(room))
    _, told = run(warroom, "INC-1 followup Write the postmortem", channel="C0GENERAL")
    assert told == [
        "Recorded the follow-up on INC-1, but its war room cannot show it (is archived); "
        "`/incident INC-1 followups` lists it."
    ]
    assert [f.text for f in followups()] == ["Write the postmortem"]
    assert len(events("followup_added")) == 1


def test_someone_outside_the_war_room_cannot_add_one(warroom, room):
    _, told = run(warroom, "INC-1 followup Rotate the keys", user="U0BOB", channel="C0GENERAL")
    assert told == ["Only people in the war room can add to its timeline; join the channel first."]
    assert followups() == []


def listed(warroom, *, user: str = "U0ALICE", channel: str | None = None) -> dict:
    _, _ = run(warroom, "INC-1 followups", user=user, channel=channel)
    [answer] = warroom.sim.calls_to("response_url")
    return answer.args


def test_the_list_shows_open_ones_first_flags_overdue_and_who_did_the_rest(warroom, room, clock):
    run(warroom, "followup Rotate the keys due 2026-11-25")
    run(warroom, "followup <@U0BOB|bob> Alert on queue depth")
    run(warroom, "followup Write the postmortem due 2026-11-30")
    line = warroom.sim.channel(room)["messages"][-1]
    click(warroom, room, line)
    clock.days(3)
    answer = listed(warroom)
    assert answer["text"] == "Follow-ups of INC-1: 2 open, 1 done"
    texts = [block["text"]["text"] for block in answer["blocks"]]
    assert texts[0] == "*Follow-ups of INC-1: 2 open, 1 done*"
    assert texts[1] == "Rotate the keys\nUnassigned · due 2026-11-25 · :warning: *overdue*"
    assert texts[2] == "Alert on queue depth\nOwner <@U0BOB> · no due date"
    assert texts[3].startswith(":white_check_mark: Write the postmortem\nDone by <@U0ALICE> <!date^")
    assert [b.get("accessory", {}).get("action_id") for b in answer["blocks"][1:]] == [
        f"followup.done.{followups()[0].id}",
        f"followup.done.{followups()[1].id}",
        None,
    ]


def test_a_long_list_keeps_within_slacks_blocks(warroom, room):
    with session_scope() as session:
        for n in range(60):
            session.add(
                FollowUp(
                    incident_id=incident().id,
                    request_key=f"seed:{n}",
                    text=f"Item {n}",
                    created_by="U0ALICE",
                    created_at=T0,
                )
            )
    answer = listed(warroom)
    assert len(answer["blocks"]) == 50
    assert answer["blocks"][-1]["elements"][0]["text"] == "… and 12 more (12 open)"
    assert warroom.sim.calls_to("response_url")[0].ok


def test_mark_done_updates_the_line_once_and_a_second_click_says_who_did_it(warroom, room):
    run(warroom, f"followup {ALERT}")
    line = warroom.sim.channel(room)["messages"][-1]
    click(warroom, room, line, user="U0BOB")  # the owner, though not in the room
    [update] = warroom.sim.calls_to("chat.update")
    assert update.args["ts"] == line["ts"]
    assert update.args["text"].startswith(
        ":white_check_mark: Alert on queue depth &lt;!channel&gt;\nDone by <@U0BOB> <!date^"
    )
    [stored] = followups()
    assert (stored.done_by, stored.done_at) == ("U0BOB", T0)
    click(warroom, room, line, user="U0ALICE")
    assert whispers(warroom) == ["Already done by <@U0BOB> on 2026-11-24."]
    assert warroom.sim.calls_to("chat.update") == []
    assert [e.actor_id for e in events("followup_done")] == ["U0BOB"]


def test_mark_done_from_the_list_tells_the_clicker(warroom, room):
    run(warroom, "followup Rotate the keys")
    answer = listed(warroom)
    click(warroom, room, {"blocks": [answer["blocks"][1]]}, ephemeral=True)
    assert whispers(warroom) == ["Marked done: Rotate the keys"]
    assert followups()[0].done_by == "U0ALICE"


def test_only_the_owner_people_in_the_room_or_admins_may_mark_one_done(warroom, room):
    run(warroom, "followup <@U0BOB|bob> Rotate the keys")
    item = {"blocks": [listed(warroom, user="U0CAROL", channel="C0GENERAL")["blocks"][1]]}
    click(warroom, "C0GENERAL", item, user="U0CAROL", ephemeral=True)
    assert whispers(warroom) == [
        "Only people in the war room can add to its timeline; join the channel first."
    ]
    assert followups()[0].done_at is None
    warroom.deps.settings.warroom_admins = ["U0DAVE"]
    click(warroom, "C0GENERAL", item, user="U0DAVE", ephemeral=True)
    assert followups()[0].done_by == "U0DAVE"


@pytest.mark.parametrize("value", ["999", "DROP TABLE", ""])
def test_a_forged_click_for_an_unknown_followup_changes_nothing(warroom, room, value):
    run(warroom, "followup Rotate the keys")
    forged = {"blocks": [{"type": "section", "accessory": {"action_id": "followup.done", "value": value}}]}
    click(warroom, room, forged)
    assert whispers(warroom) == ["That follow-up does not exist."]
    assert followups()[0].done_at is None and warroom.sim.calls_to("chat.update") == []


def tick(warroom, clock, days: float) -> list[dict]:
    """Run the follow-up reminder job at T0 + days; return the reminders it sent."""
    warroom.sim.clear_calls()
    sent = asyncio.run(send_due_followups(warroom.deps, clock.days(days)))
    warroom.settle()
    posts = [c.args for c in warroom.sim.calls_to("chat.postMessage")]
    # The scheduler's own update-reminder tick may post in the room meanwhile: not a follow-up.
    posts = [p for p in posts if not str(_key(p)).startswith("reminder:")]
    assert sent == len(posts)
    return posts


def _key(post: dict) -> object:
    return ((post.get("metadata") or {}).get("event_payload") or {}).get("key")


def test_a_due_followup_is_sent_once_to_its_owner_and_an_unowned_one_to_the_current_ic(
    warroom, room, clock, simulator
):
    run(warroom, "followup <@U0BOB|bob> Alert on queue depth due 2026-11-26")
    run(warroom, "followup Write the postmortem due 2026-11-26")
    run(warroom, "followup <@U0CAROL|carol> Rotate the keys due 2026-11-30")
    run(warroom, "followup <@U0DAVE|dave> Already handled due 2026-11-26")
    click(warroom, room, warroom.sim.channel(room)["messages"][-1])
    run(warroom, "ic <@U0CAROL|carol>")
    assert tick(warroom, clock, 1.6) == []  # 2026-11-25 23:24 UTC: not due yet
    reminders = tick(warroom, clock, 1.7)  # 2026-11-26 01:48 UTC
    assert sorted(r["channel"] for r in reminders) == ["U0BOB", "U0CAROL"]
    to_bob = next(r for r in reminders if r["channel"] == "U0BOB")
    assert to_bob["text"] == (
        f"Your follow-up from INC-1 (<#{room}>) is due 2026-11-26:\nAlert on queue depth"
    )
    to_ic = next(r for r in reminders if r["channel"] == "U0CAROL")
    assert "unassigned follow-up from INC-1" in to_ic["text"] and "Write the postmortem" in to_ic["text"]
    assert to_bob["blocks"][0]["accessory"]["action_id"] == "followup.done"
    assert tick(warroom, clock, 2) == []
    restarted = LocalWarroom(simulator, warroom.settings)  # another process, or a restart
    try:
        assert tick(restarted, clock, 3) == []
    finally:
        restarted.stop()
    [to_carol] = tick(warroom, clock, 6)
    assert to_carol["channel"] == "U0CAROL" and "Rotate the keys" in to_carol["text"]


def test_the_owner_marks_it_done_from_the_reminder(warroom, room, clock):
    run(warroom, "followup <@U0BOB|bob> Alert on queue depth due 2026-11-24")
    tick(warroom, clock, 0.1)
    dm = warroom.sim.channel("D0BOB")["messages"][-1]
    click(warroom, "D0BOB", dm, user="U0BOB")
    [update] = warroom.sim.calls_to("chat.update")
    assert update.args["channel"] == "D0BOB" and update.args["ts"] == dm["ts"]
    assert "Done by <@U0BOB>" in warroom.sim.channel("D0BOB")["messages"][-1]["text"]
    assert followups()[0].done_by == "U0BOB"


def test_an_unknown_owner_is_named_back(warroom, room):
    _, told = run(warroom, "followup <@U0NOPE|nope> Rotate the keys")
    assert told == ["<@U0NOPE> is not someone in this workspace; name a person."]
    assert followups() == []
