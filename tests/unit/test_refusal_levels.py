"""What a person is told about a request that did not happen, and the log line it leaves."""

from __future__ import annotations

import logging

from bot.adapters.slack import SlackCallFailed
from bot.incidents.errors import InvalidInput
from bot.slack.errors import APOLOGY, answer_for


def lines(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "bot.slack.errors"]


def test_a_refusal_is_one_info_line_even_when_it_spans_lines(caplog):
    caplog.set_level(logging.INFO, logger="bot")  # the demo turns bot down to WARNING
    told = answer_for(InvalidInput("Name a person.\nFor example @bob."), user="U0ALICE", what="/incident ic")
    assert told == "Name a person.\nFor example @bob."
    assert lines(caplog) == [
        (logging.INFO, "refused /incident ic for U0ALICE: Name a person. For example @bob.")
    ]


def test_slack_refusing_warroom_is_a_warning_for_an_operator(caplog):
    caplog.set_level(logging.INFO, logger="bot")  # the demo turns bot down to WARNING
    failed = SlackCallFailed("chat.postMessage", "not_in_channel")
    assert answer_for(failed, user="U0BOB", what="/incident update") == failed.user_message
    assert lines(caplog) == [
        (logging.WARNING, "failed /incident update for U0BOB: Slack refused chat.postMessage: not_in_channel")
    ]


def test_an_unexpected_error_gets_the_apology_and_is_left_to_whoever_caught_it(caplog):
    caplog.set_level(logging.INFO, logger="bot")  # the demo turns bot down to WARNING
    assert answer_for(RuntimeError("db gone"), user="U0BOB", what="button x") == APOLOGY
    assert lines(caplog) == []
