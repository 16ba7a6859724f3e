"""What reaches /slack/events unsigned, stale or forged is refused and changes nothing."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlmodel import select

from bot.http.signing import slack_signature
from storage.models import Incident
from storage.session import session_scope

FORM = "application/x-www-form-urlencoded"


def no_incidents() -> bool:
    with session_scope() as session:
        return session.exec(select(Incident)).first() is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x_slack_request_timestamp": ""},
        {"x_slack_request_timestamp": "not-a-number"},
        {"x_slack_request_timestamp": "1e9"},
        {"x_slack_request_timestamp": str(int(time.time()) - 600)},
        {"x_slack_signature": "v0=deadbeef"},
        {"x_slack_signature": "garbage"},
        {"x_slack_signature": "v0=" + "0" * 64},
    ],
    ids=["unsigned", "empty-ts", "non-numeric-ts", "float-ts", "stale", "short-sig", "no-v0", "wrong-sig"],
)
def test_bad_signatures_get_401_and_change_nothing(warroom, headers):
    body = warroom.person.command_body("declare sev1 Forged outage")
    if not headers:
        response = httpx.post(warroom.person.events_url, content=body, headers={"content-type": FORM})
    else:
        response = warroom.person.post(body, FORM, **headers)
    assert response.status_code == 401
    warroom.settle()
    assert warroom.slack_calls() == [] and no_incidents()


def test_a_body_changed_after_signing_is_refused(warroom):
    body = warroom.person.command_body("declare sev1 Real outage")
    timestamp = str(int(time.time()))
    signature = slack_signature(warroom.person.secret, timestamp, body)
    tampered = body.replace(b"Real", b"Fake")
    response = httpx.post(
        warroom.person.events_url,
        content=tampered,
        headers={
            "content-type": FORM,
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        },
    )
    assert response.status_code == 401 and no_incidents()


def test_url_verification_answers_the_challenge(warroom):
    body = json.dumps({"token": "unused", "challenge": "3eZbrw1aBm2r", "type": "url_verification"})
    response = warroom.person.post(body.encode(), "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2r"}
