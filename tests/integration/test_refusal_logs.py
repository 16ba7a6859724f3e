"""A refusal told to a person is logged in one INFO line (who, what, the sentence), never as a
warning or a stack, and never with the rest of what they typed."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from storage.models import Incident
from storage.session import session_scope

SEV9 = "`sev9` is not a severity: use sev1 (worst), sev2, sev3 or sev4."


@pytest.fixture
def room(warroom, caplog):
    """INC-1's war room, open, with alice its IC; the log captured from here on."""
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    warroom.sim.clear_calls()
    caplog.set_level(logging.INFO, logger="bot")  # the demo turns bot down to WARNING
    caplog.clear()
    with session_scope() as session:
        return session.exec(select(Incident)).one().channel_id


def logged(caplog) -> list[tuple[int, str]]:
    """Warroom's log lines about requests: level and text, stacks flagged."""
    return [
        (record.levelno, record.getMessage() + (" [stack]" if record.exc_info else ""))
        for record in caplog.records
        if record.name.startswith("bot.") and record.name != "bot.app"
    ]


def test_a_refused_command_is_one_info_line_naming_who_and_what(warroom, room, caplog):
    assert warroom.command("sev 9", channel=room).json()["text"] == SEV9
    assert logged(caplog) == [(logging.INFO, f"refused /incident sev for U0ALICE: {SEV9}")]


def test_a_refusal_after_the_ack_is_logged_at_info_not_as_a_warning(warroom, room, caplog):
    warroom.command("sev 1", user="U0BOB", channel=room)
    warroom.settle()
    who_may = (
        "Only the incident commander (<@U0ALICE>), the scribe or a Warroom admin can change the "
        "severity, status or roles."
    )
    assert [c.args["text"] for c in warroom.sim.calls_to("response_url")] == [who_may]
    assert logged(caplog) == [(logging.INFO, f"refused /incident sev for U0BOB: {who_may}")]


def test_a_refused_click_names_the_button(warroom, room, caplog):
    warroom.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U0BOB", "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": "5.5.read",
            "channel": {"id": room},
            "container": {"type": "message", "message_ts": "1.1", "channel_id": room},
            "actions": [{"type": "button", "action_id": "runbook.read", "value": "gone", "action_ts": "1.2"}],
        }
    )
    warroom.settle()
    gone = "That runbook is no longer loaded; ask an admin to check the playbooks folder."
    assert [c.args["text"] for c in warroom.sim.calls_to("chat.postEphemeral")] == [gone]
    assert logged(caplog) == [(logging.INFO, f"refused button runbook.read for U0BOB: {gone}")]


def test_what_was_typed_after_an_unknown_subcommand_is_not_logged(warroom, room, caplog):
    answer = warroom.command("decalre sev2 hunter2-is-my-password", channel=room).json()["text"]
    assert answer.startswith("`decalre` is not an /incident subcommand.")
    [(level, line)] = logged(caplog)
    assert level == logging.INFO and line.startswith("refused /incident for U0ALICE: `decalre` is not")
    assert "hunter2" not in caplog.text
