"""Status-update reminders: due by severity, once each, after restarts too; post or snooze."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from bot.flows.reminders import send_due_reminders
from bot.simulator.harness import LocalWarroom
from storage.models import Incident
from storage.session import session_scope


def declare(warroom, severity: str) -> str:
    warroom.command(f"declare {severity} Checkout returns 500s")
    warroom.settle()
    warroom.sim.clear_calls()
    with session_scope() as session:
        return session.exec(select(Incident)).one().channel_id


def tick(warroom, clock, minutes: float, saying: str = "no status update") -> list[dict]:
    """Run the reminder job at T0 + minutes; return the reminders it posted (all of them say `saying`)."""
    sent = asyncio.run(send_due_reminders(warroom.deps, clock.minutes(minutes)))
    warroom.settle()
    posts = [c for c in warroom.sim.calls_to("chat.postMessage") if saying in c.args["text"]]
    warroom.sim.clear_calls()
    assert sent == len(posts)
    return posts


def test_a_sev2_reminder_comes_after_30_minutes_once_then_every_30(warroom, clock):
    room = declare(warroom, "sev2")
    assert tick(warroom, clock, 29) == []
    [reminder] = tick(warroom, clock, 30)
    assert reminder.args["channel"] == room
    assert reminder.args["text"].startswith("<@U0ALICE> no status update on INC-1 for 30 minutes.")
    buttons = [e["text"]["text"] for e in reminder.args["blocks"][1]["elements"]]
    assert buttons == ["Post update", "Snooze 15 min"]
    assert tick(warroom, clock, 31) == []
    assert len(tick(warroom, clock, 60)) == 1


def test_an_update_resets_the_clock(warroom, clock):
    room = declare(warroom, "sev2")
    clock.minutes(20)
    warroom.command("update Rolled back; watching", channel=room)
    warroom.settle()
    assert tick(warroom, clock, 45) == []
    assert len(tick(warroom, clock, 50)) == 1


def test_sev4_gets_no_reminders_and_intervals_are_configurable(warroom, clock):
    declare(warroom, "sev4")
    assert tick(warroom, clock, 600) == []
    warroom.deps.settings.warroom_reminder_minutes = {1: 15, 2: 30, 3: 60, 4: 120}
    assert len(tick(warroom, clock, 601)) == 1


def test_a_restart_across_the_due_time_sends_it_once(warroom, simulator, clock):
    declare(warroom, "sev1")
    warroom.stop()
    restarted = LocalWarroom(simulator, warroom.settings)
    try:
        assert len(tick(restarted, clock, 40)) == 1
        assert tick(restarted, clock, 41) == []
    finally:
        restarted.stop()


def click(warroom, reminder: dict, action_id: str, user: str = "U0ALICE"):
    button = next(e for e in reminder.args["blocks"][1]["elements"] if e["action_id"] == action_id)
    ts = warroom.sim.channel(reminder.args["channel"])["messages"][-1]["ts"]
    warroom.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": f"8.8.{user}",  # each click its own trigger, as in Slack
            "channel": {"id": reminder.args["channel"]},
            "container": {"type": "message", "message_ts": ts, "channel_id": reminder.args["channel"]},
            "message": {"ts": ts},
            "actions": [{**button, "block_id": "reminder.actions", "action_ts": "1.1"}],
        }
    )
    warroom.settle()


def test_snooze_puts_the_next_reminder_off_and_a_second_click_changes_nothing(warroom, clock):
    room = declare(warroom, "sev1")
    [reminder] = tick(warroom, clock, 15)
    clock.minutes(17)
    click(warroom, reminder, "reminder.snooze")
    click(warroom, reminder, "reminder.snooze", user="U0BOB")
    updated = warroom.sim.channel(room)["messages"][-1]
    assert updated["text"] == ":zzz: <@U0ALICE> snoozed the update reminder for INC-1 until 09:32 UTC."
    [told] = [c.args["text"] for c in warroom.sim.calls_to("chat.postEphemeral")] or [
        m["text"] for m in warroom.sim.channel("D0BOB")["messages"]
    ]
    assert told == "Reminders for INC-1 are already snoozed until 09:32 UTC."
    assert tick(warroom, clock, 31) == []
    assert len(tick(warroom, clock, 32)) == 1


def test_post_update_button_opens_a_form_that_posts_the_update(warroom, clock):
    room = declare(warroom, "sev1")
    [reminder] = tick(warroom, clock, 15)
    clock.minutes(20)
    click(warroom, reminder, "card.update")
    [opened] = warroom.sim.calls_to("views.open")
    view = opened.response["view"]
    warroom.person.view_submission(
        view, {"value": {"value": {"type": "plain_text_input", "value": "Fix deployed"}}}
    )
    warroom.settle()
    assert "Fix deployed" in warroom.sim.channel(room)["messages"][-1]["text"]
    assert "Fix deployed" in warroom.sim.channel("C0BROADCAST")["messages"][-1]["text"]
    assert tick(warroom, clock, 34) == []
    assert len(tick(warroom, clock, 35)) == 1


def test_a_resolved_incident_left_open_a_day_is_nudged_once_to_close(warroom, clock):
    room = declare(warroom, "sev2")
    clock.minutes(10)
    warroom.command("resolve Rolled back", channel=room)
    warroom.settle()

    def nudges(minutes: float) -> list:
        return tick(warroom, clock, minutes, saying="still not closed")

    assert nudges(10 + 24 * 60 - 1) == []
    [nudge] = nudges(10 + 24 * 60)
    assert nudge.args["channel"] == room
    assert nudge.args["text"].startswith("<@U0ALICE> INC-1 was resolved a day ago and is still not closed.")
    [button] = nudge.args["blocks"][1]["elements"]
    assert (button["action_id"], button["text"]["text"]) == ("card.close", "Close incident")
    assert nudges(10 + 48 * 60) == []  # once per resolution


def test_a_one_minute_reminder_says_1_minute(warroom, clock):
    warroom.deps.settings.warroom_reminder_minutes = {1: 1, 2: 30, 3: 60, 4: 0}
    declare(warroom, "sev1")
    [reminder] = tick(warroom, clock, 1)
    assert reminder.args["text"].startswith("<@U0ALICE> no status update on INC-1 for 1 minute. ")
