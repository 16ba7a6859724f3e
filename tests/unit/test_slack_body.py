"""Reading a signed Slack body before Bolt: Slack's real shapes pass with their ids, the rest is refused."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.http.slack_body import MAX_BODY_BYTES, Kind, Problem, SlackRequest, read_slack_body
from tests.shapes import BUTTON, COMMAND, EVENT, SUBMISSION

FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def payload(body: object) -> bytes:
    return form({"payload": json.dumps(body)})


def read(body: bytes, content_type: str = FORM) -> SlackRequest:
    result = read_slack_body(body, content_type)
    assert isinstance(result, SlackRequest), result
    return result


def refused(body: bytes, content_type: str = FORM) -> Problem:
    result = read_slack_body(body, content_type)
    assert isinstance(result, Problem), result
    return result


def test_a_slash_command_names_its_command_team_and_app():
    request = read(form(COMMAND), f"{FORM}; charset=utf-8")
    assert (request.kind, request.type, request.team_id) == (Kind.COMMAND, "/incident", "T0TEAM")
    assert (request.enterprise_id, request.api_app_id) == (None, "A0WARROOM")
    assert request.body["text"] == "declare sev2 Checkout returns 500s"


def test_a_command_whose_text_says_payload_is_still_a_command():
    request = read(form({**COMMAND, "text": "note the payload queue is stuck"}))
    assert request.kind is Kind.COMMAND and request.body["text"] == "note the payload queue is stuck"


def test_an_enterprise_command_names_its_organisation():
    assert read(form({**COMMAND, "enterprise_id": "E0ORG"})).enterprise_id == "E0ORG"


def test_a_button_press_is_an_interaction_with_the_team_of_its_workspace():
    request = read(payload(BUTTON))
    assert (request.kind, request.type, request.team_id) == (Kind.INTERACTIVE, "block_actions", "T0TEAM")
    assert (request.enterprise_id, request.api_app_id) == (None, "A0WARROOM")
    assert request.body == BUTTON


def test_an_org_wide_interaction_takes_its_team_from_the_person():
    org_wide = {**SUBMISSION, "team": None, "enterprise": {"id": "E0ORG", "name": "Org"}}
    request = read(payload(org_wide))
    assert (request.team_id, request.enterprise_id) == ("T0TEAM", "E0ORG")


def test_an_event_names_the_installation_it_was_sent_for():
    request = read(json.dumps(EVENT).encode(), JSON)
    assert (request.kind, request.type, request.team_id) == (Kind.EVENT, "event_callback", "T0TEAM")
    installed = [{"team_id": "T0ORG", "enterprise_id": "E0ORG"}]
    org = read(json.dumps({**EVENT, "authorizations": installed}).encode(), JSON)
    assert (org.team_id, org.enterprise_id) == ("T0ORG", "E0ORG")


def test_url_verification_and_ssl_check_name_no_team():
    challenge = read(b'{"token": "unused", "challenge": "3eZbrw1a", "type": "url_verification"}', JSON)
    assert (challenge.kind, challenge.team_id) == (Kind.URL_VERIFICATION, None)
    assert read(b"ssl_check=1&token=unused").kind is Kind.SSL_CHECK


def test_unknown_but_well_formed_types_pass_for_bolt_to_answer():
    assert read(payload({**BUTTON, "type": "a_newer_interaction"})).type == "a_newer_interaction"
    assert read(json.dumps({**EVENT, "type": "app_rate_limited"}).encode(), JSON).kind is Kind.EVENT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (form({"payload": "not json"}), "payload is not JSON"),
        (form({"payload": "[1, 2]"}), "payload is not a JSON object"),
        (payload({"user": {"id": "U0BOB"}, "team": {"id": "T0TEAM"}}), "payload has no type"),
        (payload({**BUTTON, "type": 7}), "payload.type must be text"),
        (payload({**BUTTON, "team": 5}), "payload.team must be an id or an object"),
        (payload({**BUTTON, "team": None, "user": {"id": "U0BOB"}}), "payload names no team"),
        (payload({k: v for k, v in BUTTON.items() if k != "user"}), "payload has no user"),
        (payload({**BUTTON, "actions": []}), "payload.actions must list something"),
        (payload({**BUTTON, "actions": ["approve"]}), "payload.actions must be a list of objects"),
        (payload({**BUTTON, "actions": [{"action_id": None}]}), "payload.actions[0].action_id must be text"),
        (payload({**SUBMISSION, "view": {"id": "V1"}}), "payload.view has no callback_id"),
        (payload({**SUBMISSION, "response_urls": {"x": 1}}), "payload.response_urls must be a list"),
        (payload({**BUTTON, "team": {"id": "T" * 33}}), "payload.team.id must be an id"),
        (payload({**BUTTON, "trigger_id": "x" * 256}), "payload.trigger_id must be text of up to 255"),
        (payload({**BUTTON, "note": "a\x00b"}), "NUL"),
        (payload({**BUTTON, "note": "\ud800"}), "lone surrogate"),
        (form({"payload": json.dumps(BUTTON)[:-1] + ', "n": NaN}'}), "NaN is not JSON"),
        (form({"payload": json.dumps(BUTTON)[:-1] + ', "n": 1e999}'}), "too large a number"),
        (form({"payload": "[" * 65 + "]" * 65}), "nested deeper than 64"),
        (form({"payload": "[" * 100_000}), "nested too deep"),
        (form({k: v for k, v in COMMAND.items() if k != "user_id"}), "command has no user_id"),
        (form({**COMMAND, "team_id": ""}), "command names no team"),
        (form({**COMMAND, "text": "a\x00b"}), "NUL"),
        (form(COMMAND) + b"&text=%FF", "not UTF-8"),
        (b"team_id=T0TEAM&text=hello", "neither a command nor a payload"),
        ("command=/incident&text=caf\xe9".encode("latin-1"), "not UTF-8"),
    ],
)
def test_malformed_forms_are_refused_with_the_reason(body, reason):
    problem = refused(body)
    assert problem.status == 400 and reason in problem.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[1]", "body is not a JSON object"),
        (b'{"token": "x"}', "body has no type"),
        (json.dumps({**EVENT, "event": [1]}).encode(), "body.event must be an object"),
        (json.dumps({**EVENT, "event": None}).encode(), "body.event must be an object"),
        (json.dumps({**EVENT, "event": {"user": "U1"}}).encode(), "body.event has no type"),
        (json.dumps({**EVENT, "authorizations": "T0TEAM"}).encode(), "body.authorizations must be a list"),
        (json.dumps({**EVENT, "team_id": 7, "authorizations": []}).encode(), "body.team_id must be an id"),
        (json.dumps({**EVENT, "team_id": None, "authorizations": None}).encode(), "body names no team"),
        (b'{"type": "url_verification", "challenge": 12}', "body.challenge must be text"),
    ],
)
def test_malformed_events_are_refused_with_the_reason(body, reason):
    problem = refused(body, JSON)
    assert problem.status == 400 and reason in problem.reason


def test_other_content_types_are_refused():
    assert "content type" in refused(form(COMMAND), "text/plain").reason
    assert "content type" in refused(json.dumps(EVENT).encode(), "").reason


def test_a_body_over_the_cap_is_refused_as_too_large():
    problem = refused(form({**COMMAND, "text": "x" * MAX_BODY_BYTES}))
    assert problem.status == 413
