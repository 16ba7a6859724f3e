"""Running an incident from its war room, through signed requests against the simulator."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from storage.models import Incident, RoleAssignment, TimelineEvent
from storage.session import session_scope
from tests.rooms import open_room


@pytest.fixture
def room(warroom):
    """INC-1 declared by alice (its IC), its war room open, the simulator's log cleared."""
    return open_room(warroom)


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident).where(Incident.number == 1)).one()


def kinds() -> list[str]:
    with session_scope() as session:
        return [e.kind for e in session.exec(select(TimelineEvent).order_by(TimelineEvent.id))]


def run(warroom, text: str, *, user: str = "U0ALICE", channel: str | None = None):
    """Type a command, wait for the worker; return the ack and what only the typist was told."""
    warroom.sim.clear_calls()
    ack = warroom.command(text, user=user, channel=channel or incident().channel_id)
    warroom.settle()
    told = [call.args["text"] for call in warroom.sim.calls_to("response_url")]
    return ack, told


def channel_lines(warroom, channel_id: str) -> list[str]:
    """What was said in the room after the card and the runbooks shown at declaration."""
    messages = warroom.sim.channel(channel_id)["messages"][1:]
    return [m["text"] for m in messages if not m["text"].startswith("Runbook:")]


def test_raising_severity_updates_card_and_topic_in_place_and_broadcasts(warroom, room):
    ack, told = run(warroom, "sev 1")
    assert ack.status_code == 200 and ack.content == b"" and told == []
    assert sorted(warroom.slack_calls()) == sorted(
        ["chat.postMessage", "chat.update", "conversations.setTopic", "chat.postMessage"]
    )
    card = incident().card_ts
    [update] = warroom.sim.calls_to("chat.update")
    assert update.args["ts"] == card and "SEV1" in str(update.args["blocks"])
    channel = warroom.sim.channel(room)
    assert channel["topic"] == "SEV1 · Investigating · IC @alice"
    assert channel_lines(warroom, room) == ["<@U0ALICE> changed the severity from SEV2 to *SEV1*."]
    assert (
        "changed the severity from SEV2 to *SEV1*"
        in warroom.sim.channel("C0BROADCAST")["messages"][-1]["text"]
    )
    assert incident().severity == 1 and kinds()[-1] == "severity_changed"


def test_lowering_severity_is_not_broadcast(warroom, room):
    run(warroom, "sev 4")
    assert len(warroom.sim.channel("C0BROADCAST")["messages"]) == 1  # the declaration only
    assert incident().severity == 4


def test_someone_without_a_role_is_told_who_may_and_nothing_changes(warroom, room):
    _, told = run(warroom, "sev 1", user="U0BOB")
    assert told == [
        "Only the incident commander (<@U0ALICE>), the scribe or a Warroom admin can change the "
        "severity, status or roles."
    ]
    assert warroom.slack_calls() == ["users.info"] and incident().severity == 2


def test_an_admin_may_change_what_the_commander_may(warroom, room):
    warroom.deps.settings.warroom_admins = ["U0DAVE"]
    run(warroom, "status identified", user="U0DAVE")
    assert incident().status == "identified" and incident().identified_at is not None


def test_asking_for_the_current_value_changes_nothing(warroom, room):
    run(warroom, "sev 1")
    _, told = run(warroom, "sev 1")
    assert told == ["INC-1 is already SEV1 (changed by <@U0ALICE>)."]
    assert "chat.update" not in warroom.slack_calls()


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("sev 0", "`sev0` is not a severity"),
        ("sev high", "is not a severity: use 1 (worst), 2, 3 or 4."),
        ("status done", "use one of investigating, identified, monitoring, resolved"),
        ("ic", "Name a person with @"),
        ("ic bob", "Name a person with @"),
        ("role chef <@U0BOB|bob>", "role <comms|scribe|ops> @user"),
        ("note", "Write the text after the subcommand"),
        ("note " + "x" * 3001, "keep it to 3000"),
        ("close now", "takes no text"),
    ],
)
def test_bad_input_is_answered_at_once_and_changes_nothing(warroom, room, text, answer):
    ack, _ = run(warroom, text)
    assert answer in ack.json()["text"]
    assert warroom.slack_calls() == [] and kinds() == ["declared", "channel_created", "announced"]


def test_handing_over_ic_invites_tells_both_and_records_it(warroom, room):
    _, told = run(warroom, "ic <@U0BOB|bob>")
    assert told == []
    assert warroom.sim.calls_to("conversations.invite")[0].args["users"] == "U0BOB"
    assert "U0BOB" in warroom.sim.channel(room)["members"]
    [line] = channel_lines(warroom, room)
    assert "<@U0ALICE>" in line and "<@U0BOB>" in line
    assert warroom.sim.channel(room)["topic"] == "SEV2 · Investigating · IC @bob"
    assert incident().commander_id == "U0BOB"
    with session_scope() as session:
        rows = session.exec(select(RoleAssignment).order_by(RoleAssignment.id)).all()
        assert [(r.user_id, r.relieved_at is not None) for r in rows] == [("U0ALICE", True), ("U0BOB", False)]
    _, told = run(warroom, "ic <@U0CAROL|carol>")
    assert told == [
        "Only the incident commander (<@U0BOB>) or a Warroom admin can hand over the incident commander role."
    ]


def test_bots_cannot_hold_roles(warroom, room):
    _, told = run(warroom, "ic <@U0BOT|warroom>")
    assert told == ["Bots and deactivated accounts cannot hold incident roles; name a person."]
    assert incident().commander_id == "U0ALICE"


def test_a_scribe_may_change_status_and_appears_on_the_card(warroom, room):
    run(warroom, "role scribe <@U0CAROL|carol>")
    fields = warroom.sim.calls_to("chat.update")[0].args["blocks"][1]["fields"]
    assert "*Scribe*\n<@U0CAROL>" in [field["text"] for field in fields]
    run(warroom, "status monitoring", user="U0CAROL")
    assert incident().status == "monitoring"


def test_guests_are_refused(warroom, room):
    warroom.sim.add_user("U0GUEST2", "visitor", is_restricted=True)
    _, told = run(warroom, "note hello", user="U0GUEST2")
    assert told == ["Guests and people from other workspaces cannot change incidents."]


def test_a_note_goes_on_the_timeline_and_is_confirmed_privately(warroom, room):
    _, told = run(warroom, "note Deploy 4512 started <!channel>", user="U0BOB")
    assert told == ["Added to the timeline."]
    assert kinds()[-1] == "note" and channel_lines(warroom, room) == []


def test_an_update_is_posted_and_broadcast(warroom, room):
    run(warroom, "update Rollback done <!here>")
    [line] = channel_lines(warroom, room)
    assert "Rollback done &lt;!here&gt;" in line
    assert "Rollback done &lt;!here&gt;" in warroom.sim.channel("C0BROADCAST")["messages"][-1]["text"]
    assert kinds()[-1] == "update"


def test_resolve_close_and_reopen(warroom, room):
    _, told = run(warroom, "close")
    assert "resolve it first" in told[0]
    run(warroom, "resolve Rolled back to v41")
    assert incident().status == "resolved" and incident().resolved_at is not None
    _, told = run(warroom, "close", user="U0BOB")
    assert "Only the incident commander" in told[0]
    run(warroom, "close")
    warroom.fill_form(
        {"customer_impact": "none", "detection": "alert", "root_cause": "?", "fix_kind": "none"}
    )
    warroom.settle()
    assert incident().status == "closed" and incident().closed_at is not None
    _, told = run(warroom, "sev 1")
    assert told == ["INC-1 is closed; `/incident INC-1 reopen` it first."]
    run(warroom, "reopen")
    assert incident().status == "investigating" and incident().closed_at is None
    assert [k for k in kinds() if k in ("status_changed", "closed", "reopened")] == [
        "status_changed",
        "closed",
        "reopened",
    ]


def test_commands_elsewhere_name_the_incident(warroom, room):
    run(warroom, "INC-1 sev 1", channel="C0GENERAL")
    assert incident().severity == 1
    _, told = run(warroom, "INC-99 sev 1", channel="C0GENERAL")
    assert told == ["INC-99 does not exist. `/incident list` shows the open incidents."]
    _, told = run(warroom, "sev 1", channel="C0GENERAL")
    assert told[0].startswith("This channel is not an incident war room")


def test_two_people_changing_at_once_make_one_change(warroom, room):
    warroom.deps.settings.warroom_admins = ["U0DAVE"]
    warroom.sim.clear_calls()
    threads = [
        threading.Thread(target=warroom.command, args=("sev 1",), kwargs={"user": user, "channel": room})
        for user in ("U0ALICE", "U0DAVE")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warroom.settle()
    told = [call.args["text"] for call in warroom.sim.calls_to("response_url")]
    assert len(told) == 1 and told[0].startswith("INC-1 is already SEV1 (changed by <@U0")
    assert len(warroom.sim.calls_to("chat.update")) == 1
    assert kinds().count("severity_changed") == 1


def test_list_shows_open_incidents_and_hides_private_ones_from_outsiders(warroom, room):
    view = warroom.person.view_submission(
        {"type": "modal", "callback_id": "declare", "private_metadata": "{}", "id": "V0SECRET"},
        {
            "title": {"title": {"type": "plain_text_input", "value": "Acquisition leak"}},
            "severity": {"severity": {"type": "static_select", "selected_option": {"value": "sev1"}}},
            "private": {"private": {"type": "checkboxes", "selected_options": [{"value": "private"}]}},
        },
        user="U0CAROL",
    )
    assert view.status_code == 200
    warroom.settle()
    outsider = warroom.command("list", user="U0BOB", channel="C0GENERAL").json()
    text = str(outsider["blocks"])
    assert "INC-1" in text and "Checkout returns 500s" in text and "IC <@U0ALICE>" in text
    assert "Acquisition" not in text and "INC-2" not in text
    assert "1 private incident you are not part of is not shown" in text
    assert outsider["text"] == "1 open incident"
    answer = warroom.command("list", user="U0CAROL", channel="C0GENERAL").json()
    assert answer["text"] == "2 open incidents"
    insider = str(answer["blocks"])
    assert insider.index("INC-2") < insider.index("INC-1")  # worst first
    assert "Acquisition leak :lock:" in insider


def test_timeline_is_private_newest_last_in_utc_and_the_readers_zone(warroom, room):
    run(warroom, "note Deploy 4512 started")
    run(warroom, "sev 1")
    ack, _ = run(warroom, "timeline", user="U0CAROL")
    assert ack.content == b""
    [answer] = warroom.sim.calls_to("response_url")
    assert answer.args["response_type"] == "ephemeral"
    text = answer.args["blocks"][0]["text"]["text"]
    lines = text.splitlines()
    assert lines[0] == "*Timeline of INC-1* · Checkout returns 500s"
    assert [line.split("*")[1] for line in lines[1:]] == [
        "Declared",
        "War room opened",
        "Announced",
        "Note",
        "Severity",
    ]
    assert " UTC · " in lines[1] and ("CET" in lines[1] or "CEST" in lines[1])  # carol is in Berlin


def test_a_long_timeline_is_split_within_slack_limits(warroom, room):
    for n in range(12):
        run(warroom, f"note {'detail ' * 400}{n}")
    run(warroom, "timeline")
    posts = warroom.sim.calls_to("response_url")
    assert all(call.ok for call in posts)
    blocks = [block for call in posts for block in call.args["blocks"]]
    assert len(blocks) > 1 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
