"""The card's buttons: a form with the current value, a change on save, one winner in a race."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.models import Incident
from storage.session import session_scope
from tests.rooms import open_room


@pytest.fixture
def room(warroom):
    warroom.deps.settings.warroom_admins = ["U0DAVE"]
    return open_room(warroom)


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def card_button(warroom, action_id: str) -> dict:
    card = warroom.sim.channel(incident().channel_id)["messages"][0]
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    return next(e for e in actions["elements"] if e["action_id"] == action_id)


def press(warroom, action_id: str, user: str = "U0ALICE") -> dict | None:
    """Click a card button; return the form Slack was asked to open, if any."""
    button = card_button(warroom, action_id)
    channel = incident().channel_id
    warroom.sim.clear_calls()
    response = warroom.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "username": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM", "domain": "example"},
            "api_app_id": "A0WARROOM",
            "trigger_id": "7.7.press",
            "container": {"type": "message", "message_ts": incident().card_ts, "channel_id": channel},
            "channel": {"id": channel, "name": "inc"},
            "message": {"ts": incident().card_ts, "type": "message"},
            "response_url": warroom.sim.response_url("press"),
            "actions": [{**button, "block_id": "card.actions", "action_ts": "1700000005.1"}],
        }
    )
    assert response.status_code == 200
    warroom.settle()
    opened = warroom.sim.calls_to("views.open")
    return opened[0].args["view"] if opened else None


def save(warroom, view: dict, state: dict, user: str = "U0ALICE"):
    warroom.sim.clear_calls()
    response = warroom.person.view_submission(view, {"value": {"value": state}}, user=user)
    warroom.settle()
    return response


def whispers(warroom) -> list[str]:
    return [call.args["text"] for call in warroom.sim.calls_to("chat.postEphemeral")]


def test_the_card_has_the_four_controls(warroom, room):
    card = warroom.sim.channel(room)["messages"][0]
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Change severity",
        "Change status",
        "Hand over IC",
        "Add note",
    ]


def test_severity_form_shows_the_current_value_and_changes_it(warroom, room):
    view = press(warroom, "card.severity")
    assert view["blocks"][0]["element"]["initial_option"]["value"] == "sev2"
    save(warroom, view, {"type": "static_select", "selected_option": {"value": "sev1"}})
    assert incident().severity == 1
    assert warroom.sim.calls_to("chat.update")[0].args["ts"] == incident().card_ts


def test_two_forms_saved_at_once_give_one_change_and_tell_the_loser(warroom, room):
    first = press(warroom, "card.severity")
    second = press(warroom, "card.severity", user="U0DAVE")
    save(warroom, first, {"type": "static_select", "selected_option": {"value": "sev1"}})
    save(warroom, second, {"type": "static_select", "selected_option": {"value": "sev3"}}, user="U0DAVE")
    assert incident().severity == 1
    assert whispers(warroom) == ["INC-1 is already SEV1 (changed by <@U0ALICE>)."]


def test_status_and_handover_forms(warroom, room):
    view = press(warroom, "card.status")
    assert view["blocks"][0]["element"]["initial_option"]["value"] == "investigating"
    save(warroom, view, {"type": "static_select", "selected_option": {"value": "identified"}})
    assert incident().status == "identified"
    view = press(warroom, "card.handover")
    assert view["blocks"][0]["element"]["initial_user"] == "U0ALICE"
    save(warroom, view, {"type": "users_select", "selected_user": "U0BOB"})
    assert incident().commander_id == "U0BOB"
    assert "U0BOB" in warroom.sim.channel(room)["members"]


def test_note_form_adds_to_the_timeline_and_rejects_empty_text_in_its_ack(warroom, room):
    view = press(warroom, "card.note", user="U0BOB")
    empty = save(warroom, view, {"type": "plain_text_input", "value": "   "}, user="U0BOB")
    assert empty.json()["response_action"] == "errors"
    save(warroom, view, {"type": "plain_text_input", "value": "Cache flushed"}, user="U0BOB")
    # bob is not a member of the war room, so the confirmation comes as a direct message
    assert [m["text"] for m in warroom.sim.channel("D0BOB")["messages"]] == ["Added to the timeline."]


def test_a_button_pressed_by_someone_not_allowed_opens_nothing(warroom, room):
    assert press(warroom, "card.severity", user="U0BOB") is None
    assert whispers(warroom) == [
        "Only the incident commander (<@U0ALICE>), the scribe or a Warroom admin can change the "
        "severity, status or roles."
    ]


def test_a_closed_incident_card_has_no_buttons(warroom, room):
    warroom.command("resolve done", channel=room)
    warroom.settle()
    warroom.command("close", channel=room)
    warroom.settle()
    warroom.fill_form(
        {"customer_impact": "none", "detection": "alert", "root_cause": "?", "fix_kind": "none"}
    )
    warroom.settle()
    card = warroom.sim.channel(room)["messages"][0]
    assert all(block["type"] != "actions" for block in card["blocks"])
