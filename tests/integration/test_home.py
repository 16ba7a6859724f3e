"""The App Home tab, through signed Events API and interaction requests against the simulator."""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlmodel import select

from bot.slack.errors import APOLOGY
from storage.models import Incident
from storage.session import session_scope

EVENT_IDS = itertools.count(1)


def send_event(warroom, event: dict[str, Any], event_id: str = "Ev0HOME1"):
    """Deliver an Events API callback as Slack would; return the answer."""
    body = {
        "token": "unused",
        "team_id": "T0TEAM",
        "api_app_id": "A0WARROOM",
        "event": {"event_ts": "1700000000.000100", **event},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000000,
    }
    return warroom.person.post(json.dumps(body).encode(), "application/json")


def open_home(warroom, user: str = "U0ALICE", tab: str = "home") -> list[str]:
    """Open someone's Home tab, wait for the worker; return the texts shown, top to bottom."""
    event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab}
    assert send_event(warroom, event, f"Ev0HOME{next(EVENT_IDS)}").status_code == 200  # each its own
    warroom.settle()
    home = warroom.sim.home(user)
    return [] if home is None else [block_text(block) for block in home["blocks"]]


def block_text(block: dict[str, Any]) -> str:
    if block["type"] in ("actions", "context"):
        return " ".join(str(e.get("action_id") or e.get("text")) for e in block["elements"])
    return str(block.get("text", {}).get("text", "---"))


def sections(texts: list[str]) -> tuple[list[str], list[str]]:
    """The lines under "Your open incidents" and under "All open incidents"."""
    mine, everyone = texts.index("Your open incidents"), texts.index("All open incidents")
    return texts[mine + 1 : everyone - 1], texts[everyone + 1 :]


def refs(lines: list[str]) -> list[str]:
    return [line.split("*")[1] for line in lines if line.startswith("*INC-")]


def declare_private(warroom, title: str, user: str) -> None:
    warroom.person.view_submission(
        {"type": "modal", "callback_id": "declare", "private_metadata": "{}", "id": f"V0{user}"},
        {
            "title": {"title": {"type": "plain_text_input", "value": title}},
            "severity": {"severity": {"type": "static_select", "selected_option": {"value": "sev1"}}},
            "private": {"private": {"type": "checkboxes", "selected_options": [{"value": "private"}]}},
        },
        user=user,
    )
    warroom.settle()


def click_declare(warroom, trigger_id: str, user: str = "U0ALICE"):
    home = warroom.sim.home(user)
    button = home["blocks"][0]["elements"][0]
    response = warroom.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "username": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM", "domain": "example"},
            "api_app_id": "A0WARROOM",
            "trigger_id": trigger_id,
            "container": {"type": "view", "view_id": home["id"]},
            "view": home,
            "actions": [{**button, "block_id": "b1", "action_ts": "1700000005.1"}],
        }
    )
    assert response.status_code == 200 and response.content == b""
    warroom.settle()


def test_an_empty_home_offers_the_declare_button_and_says_nothing_is_open(warroom):
    texts = open_home(warroom)
    assert texts == [
        "home.declare",
        "Your open incidents",
        "Nothing open that you declared or hold a role in.",
        "---",
        "All open incidents",
        "No open incidents.",
    ]
    [publish] = warroom.sim.calls_to("views.publish")
    assert publish.ok and publish.args["user_id"] == "U0ALICE"


def test_my_incidents_are_those_i_declared_or_hold_a_role_in(warroom):
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.command("declare sev1 Payments <!channel> down", user="U0BOB")
    warroom.settle()
    with session_scope() as session:
        payments = session.exec(select(Incident).where(Incident.number == 2)).one().channel_id
    warroom.command("role scribe <@U0CAROL|carol>", user="U0BOB", channel=payments)
    warroom.settle()

    mine, everyone = sections(open_home(warroom))
    assert refs(mine) == ["INC-1"] and refs(everyone) == ["INC-2", "INC-1"]  # worst first
    assert everyone[0].startswith("*INC-2* · SEV1 · Investigating · IC <@U0BOB> · 0m")
    assert f"<#{payments}>" in everyone[0]
    assert everyone[0].endswith("\nPayments &lt;!channel&gt; down")
    mine, everyone = sections(open_home(warroom, "U0CAROL"))
    assert refs(mine) == ["INC-2"] and refs(everyone) == ["INC-2", "INC-1"]
    mine, _ = sections(open_home(warroom, "U0DAVE"))
    assert mine == ["Nothing open that you declared or hold a role in."]


def test_a_private_incident_is_hidden_from_an_outsiders_home(warroom):
    warroom.command("declare sev2 Checkout returns 500s")
    declare_private(warroom, "Acquisition leak", "U0CAROL")

    texts = open_home(warroom, "U0BOB")
    assert "Acquisition" not in str(texts) and refs(sections(texts)[1]) == ["INC-1"]
    assert texts[-1] == "1 private incident you are not part of is not shown"
    mine, everyone = sections(open_home(warroom, "U0CAROL"))
    assert mine[0].endswith("\nAcquisition leak :lock:")
    assert refs(everyone) == ["INC-2", "INC-1"]


def test_the_declare_button_opens_the_form_which_declares(warroom):
    open_home(warroom)
    click_declare(warroom, warroom.sim.issue_trigger())

    [opened] = warroom.sim.calls_to("views.open")
    assert opened.ok and opened.args["view"]["callback_id"] == "declare"
    form = opened.response["view"]
    title = {"title": {"title": {"type": "plain_text_input", "value": "Search is slow"}}}
    assert warroom.person.view_submission(form, title).status_code == 200
    warroom.settle()
    assert warroom.sim.channel_by_name("inc-1-search-is-slow") is not None


def test_a_form_that_cannot_open_is_apologised_for_on_the_home_tab(warroom):
    open_home(warroom)
    trigger_id = warroom.sim.issue_trigger()
    warroom.sim.expire_triggers(trigger_id)
    click_declare(warroom, trigger_id)

    [opened] = warroom.sim.calls_to("views.open")
    assert opened.error == "expired_trigger_id"
    assert len(warroom.sim.calls_to("views.publish")) == 2
    texts = [block_text(block) for block in warroom.sim.home("U0ALICE")["blocks"]]
    assert texts[:2] == ["home.declare", APOLOGY]
    assert open_home(warroom)[1] == "Your open incidents"  # gone when the tab is next opened


def test_the_messages_tab_is_acknowledged_and_changes_nothing(warroom):
    assert open_home(warroom, tab="messages") == []
    assert warroom.slack_calls() == []
