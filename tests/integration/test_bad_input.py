"""Signed requests of any shape never get a 5xx, and the malformed ones change nothing: no row,
no Slack call. Hypothesis builds Slack's real shapes with one thing broken, and shapes of its own."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot.http.signing import pagerduty_signature
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Alert, Incident, Job, WebhookDelivery
from storage.session import session_scope
from tests.shapes import BUTTON, COMMAND, EVENT, PD_EVENT, SUBMISSION

FORM, JSON = "application/x-www-form-urlencoded", "application/json"
PD_SECRET = "whsec_bad_input"
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BIDI_TITLE = "Refund \u202egnissim\u202c API\u200b down\ufeff"
INVISIBLE = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
INVISIBLE |= set("\u200b\u200c\u200d\u2060\ufeff")

# --- what a malformed request may not leave behind ---------------------------------------------


def rows_written(*allowed: type[SQLModel]) -> dict[str, int]:
    """Tables (other than `allowed`) that hold rows, with their counts; the scheduler's own jobs,
    recorded on every tick whatever requests come, are not counted."""
    skip = {model.__tablename__ for model in allowed}
    with session_scope() as session:
        counts = {
            table.name: session.execute(
                select(func.count()).select_from(table).where(table.c.kind != "schedule")
                if table.name == "jobs"
                else select(func.count()).select_from(table)
            ).scalar_one()
            for table in SQLModel.metadata.sorted_tables
            if table.name not in skip
        }
    return {name: count for name, count in counts.items() if count}


def assert_nothing_changed(warroom: LocalWarroom, *allowed: type[SQLModel]) -> None:
    warroom.settle()
    assert rows_written(*allowed) == {}
    assert warroom.slack_calls() == []


# --- Slack shapes, each with one thing broken --------------------------------------------------

texts = st.text(max_size=20)
numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
leaves = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
not_text = json_values.filter(lambda value: not isinstance(value, str) and value is not None)
not_objects = json_values.filter(
    lambda value: (
        value is not None and not (isinstance(value, list) and all(isinstance(item, dict) for item in value))
    )
)
not_object = json_values.filter(lambda value: not isinstance(value, dict | str) and value is not None)
long_id = st.integers(33, 3000).map(lambda n: "T" * n)
unstorable = st.sampled_from(["\x00", "\ud800", "\udfff"]).flatmap(lambda bad: texts.map(lambda t: t + bad))
Broken = Callable[[st.DrawFn, dict[str, Any]], str]


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != name}


def retyped(body: dict[str, Any], kind: str, **fields: Any) -> str:
    return json.dumps({**body, "type": kind, **fields})


def with_raw(body: dict[str, Any], raw: str) -> str:
    """The body as JSON text with one more field written as `raw` (which json.dumps would not)."""
    return json.dumps(body)[:-1] + f', "n": {raw}}}'


def broken_json(field: str) -> list[Broken]:
    """Ways to spoil a JSON body that hold for any of Slack's shapes (`field`: a text field in it)."""
    return [
        lambda draw, body: json.dumps(without(body, "type")),
        lambda draw, body: json.dumps({**body, "type": draw(not_text)}),
        lambda draw, body: json.dumps({**body, field: draw(long_id)}),
        lambda draw, body: json.dumps({**body, "trigger_id": "x" * draw(st.integers(256, 5000))}),
        lambda draw, body: json.dumps({**body, draw(texts): draw(unstorable)}),
        lambda draw, body: with_raw(body, draw(st.sampled_from(["NaN", "-Infinity", "1e999"]))),
        lambda draw, body: with_raw(body, "[" * (n := draw(st.integers(65, 3000))) + "]" * n),
        lambda draw, body: json.dumps(draw(json_values.filter(lambda value: not isinstance(value, dict)))),
        lambda draw, body: json.dumps(body)[: draw(st.integers(0, len(json.dumps(body)) - 1))],
        lambda draw, body: json.dumps({**body, draw(st.sampled_from(["team", "user"])): draw(not_object)}),
        lambda draw, body: json.dumps({**body, "response_urls": draw(not_objects)}),
    ]


PAYLOAD_BREAKS = [
    *broken_json("api_app_id"),
    lambda draw, body: json.dumps({**body, "team": None, "user": {"id": "U0BOB"}}),
    lambda draw, body: json.dumps(without(body, "user")),
    lambda draw, body: retyped(body, "block_actions", actions=draw(not_text | st.just([]))),
    lambda draw, body: retyped(body, "block_actions", actions=[{"action_id": draw(not_text)}]),
    lambda draw, body: retyped(body, "view_submission", view=draw(not_object | st.just({}))),
    lambda draw, body: retyped(body, "shortcut", callback_id=draw(not_text | st.none())),
]
EVENT_BREAKS = [
    *broken_json("team_id"),
    lambda draw, body: json.dumps({**body, "event": draw(not_object | st.none() | texts)}),
    lambda draw, body: json.dumps({**body, "event": {**body["event"], "type": draw(not_text | st.none())}}),
    lambda draw, body: json.dumps({**body, "authorizations": draw(not_objects)}),
    lambda draw, body: json.dumps({**body, "team_id": None, "authorizations": []}),
    lambda draw, body: json.dumps({"type": "url_verification", "challenge": draw(not_text | st.none())}),
]
# percent escapes and raw bytes that are not UTF-8
BAD_ESCAPES = [b"%FF", b"%C3", b"%ED%A0%80", b"\xff", b"\xe9t\xe9"]


def form_breaks() -> list[Callable[[st.DrawFn, dict[str, str]], bytes]]:
    """Ways to spoil a slash command's form."""
    needed = st.sampled_from(["command", "team_id", "user_id", "channel_id", "response_url", "trigger_id"])
    ids = st.sampled_from(["team_id", "user_id", "channel_id"])
    return [
        lambda draw, fields: encoded(without(fields, draw(needed))),
        lambda draw, fields: encoded({**fields, "team_id": ""}),
        lambda draw, fields: encoded({**fields, draw(ids): draw(long_id)}),
        lambda draw, fields: encoded(fields) + b"&text=" + quote(draw(texts)).encode() + b"%00",
        lambda draw, fields: encoded(fields) + b"&text=" + draw(st.sampled_from(BAD_ESCAPES)),
        lambda draw, fields: encoded(without(fields, "command")),
        lambda draw, fields: encoded({**fields, "text": "x" * (1024 * 1024)}),
    ]


def encoded(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


@st.composite
def broken_slack_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A signed body Slack would never send, and its content type."""
    kind = draw(st.sampled_from(["payload", "event", "command", "content-type", "bytes"]))
    if kind == "payload":
        base = draw(st.sampled_from([BUTTON, SUBMISSION]))
        text = draw(st.sampled_from(PAYLOAD_BREAKS))(draw, base)
        return urlencode({"payload": text}).encode(), draw(st.sampled_from([FORM, f"{FORM}; charset=utf-8"]))
    if kind == "event":
        body = draw(st.sampled_from(EVENT_BREAKS))(draw, EVENT).encode()
        return body, draw(st.sampled_from([JSON, "Application/JSON"]))
    if kind == "command":
        return draw(st.sampled_from(form_breaks()))(draw, COMMAND), FORM
    if kind == "content-type":
        body = draw(st.sampled_from([urlencode(COMMAND), json.dumps(EVENT)])).encode()
        return body, draw(st.sampled_from(["", "text/plain", "multipart/form-data", "application/jsonx"]))
    return draw(st.binary(max_size=200)), draw(st.sampled_from([FORM, JSON]))


@st.composite
def unknown_slack_requests(draw: st.DrawFn) -> tuple[bytes, str]:
    """A well-formed request of a kind Warroom has no listener for."""
    name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20))
    kind = draw(st.sampled_from(["payload", "event", "envelope", "command"]))
    if kind == "payload":
        return urlencode({"payload": json.dumps({**BUTTON, "type": f"x_{name}"})}).encode(), FORM
    if kind == "event":
        return json.dumps({**EVENT, "event": {**EVENT["event"], "type": f"x_{name}"}}).encode(), JSON
    if kind == "envelope":
        return json.dumps({**EVENT, "type": f"x_{name}"}).encode(), JSON
    return urlencode({**COMMAND, "command": f"/x{name}"}).encode(), FORM


@given(request=broken_slack_bodies())
@EXAMPLES
def test_malformed_slack_requests_get_400_and_change_nothing(warroom, request):
    warroom.sim.reset()
    body, content_type = request
    response = warroom.person.post(body, content_type)
    assert response.status_code == (413 if len(body) > 1024 * 1024 else 400), response.text
    assert_nothing_changed(warroom)


@given(request=unknown_slack_requests())
@EXAMPLES
def test_well_formed_requests_nobody_listens_for_are_answered_without_a_5xx_or_a_change(warroom, request):
    warroom.sim.reset()
    response = warroom.person.post(*request)
    assert response.status_code < 500
    assert_nothing_changed(warroom)


def test_an_interaction_whose_payload_is_not_json_gets_400_and_changes_nothing(warroom):
    response = warroom.person.post(b"payload=%7Bnot+json", FORM)
    assert response.status_code == 400
    assert response.text.startswith("payload is not JSON")
    assert_nothing_changed(warroom)


def test_a_command_that_mentions_a_payload_is_handled_like_any_other(warroom):
    response = warroom.command("declare sev2 The payload service drops jobs")
    assert response.json()["text"] == "Declaring INC-1 (SEV2): The payload service drops jobs…"
    warroom.settle()
    assert warroom.sim.channel_by_name("inc-1-the-payload-service-drops-jobs") is not None


def test_a_title_with_bidi_and_zero_width_characters_is_declared_without_them(warroom):
    response = warroom.command(f"declare sev2 {BIDI_TITLE}")
    assert response.json()["text"] == "Declaring INC-1 (SEV2): Refund gnissim API down…"
    warroom.settle()
    room = warroom.sim.channel_by_name("inc-1-refund-gnissim-api-down")
    card = room["messages"][0]
    assert card["blocks"][0]["text"]["text"] == "INC-1 · Refund gnissim API down"
    shown = [room["name"], room["topic"], *(str(m) for m in room["messages"])]
    shown += [str(m) for m in warroom.sim.channel("C0BROADCAST")["messages"]]
    assert not INVISIBLE & set("".join(shown))
    with session_scope() as session:
        [incident] = session.execute(select(Incident)).scalars()
        assert incident.title == "Refund gnissim API down"


# --- PagerDuty --------------------------------------------------------------------------------

deliveries = itertools.count(1)
OBJECT_FIELDS = [("agent",), ("data",), ("data", "service"), ("data", "priority")]
TEXT_FIELDS = [("event_type",), ("occurred_at",), ("agent", "summary"), ("data", "id"), ("data", "title")]
TEXT_FIELDS += [("data", "incident_key"), ("data", "urgency"), ("data", "service", "summary")]


def with_field(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `event` with `value` at `path` (objects on the way made as needed)."""
    head, *rest = path
    inner = event.get(head) if isinstance(event.get(head), dict) else {}
    return {**event, head: with_field(inner, tuple(rest), value) if rest else value}


@st.composite
def broken_pagerduty_events(draw: st.DrawFn) -> dict[str, Any]:
    """PagerDuty's event with one field processing reads given a shape PagerDuty never sends."""
    spoil = draw(st.sampled_from(["object", "text", "long", "time", "keyless", "ignored"]))
    event = draw(st.sampled_from(["incident.triggered", "incident.acknowledged", "incident.resolved"]))
    base = {**PD_EVENT, "event_type": event, "id": draw(texts)}
    if spoil == "object":
        return with_field(base, draw(st.sampled_from(OBJECT_FIELDS)), draw(not_object | texts))
    if spoil == "text":
        return with_field(base, draw(st.sampled_from(TEXT_FIELDS)), draw(not_text))
    if spoil == "long":
        field = draw(st.sampled_from([("data", "urgency"), ("data", "service", "id")]))
        return with_field(base, field, "x" * draw(st.integers(65, 100_000)))
    if spoil == "time":
        moment = st.sampled_from(["2026-11-24T03:12:09", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00+01"])
        return with_field(base, ("occurred_at",), draw(moment | texts.filter(bool)))
    if spoil == "keyless":  # an acknowledgement without a key matches no alert: processed, changing nothing
        keyless = with_field(base, ("data", "id"), None)
        return with_field({**keyless, "event_type": "incident.triggered"}, ("data", "incident_key"), "")
    return {**base, "event_type": draw(st.sampled_from(["service.updated", "incident.annotated", ""]))}


@st.composite
def pagerduty_bodies(draw: st.DrawFn) -> bytes:
    """A body PagerDuty would never send: spoiled events, text a database cannot keep, other JSON, bytes."""
    kind = draw(st.sampled_from(["event", "event", "unstorable", "json", "bytes", "utf-16"]))
    if kind == "event":
        return json.dumps({"event": draw(broken_pagerduty_events())}).encode()
    if kind == "unstorable":
        body = json.dumps({"event": with_field(PD_EVENT, ("data", "title"), draw(unstorable))})
        return draw(st.sampled_from([body, body.replace('"high"', "NaN")])).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "utf-16":
        encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"]))
        return json.dumps({"event": PD_EVENT}).encode(encoding)
    return draw(st.binary(max_size=300))


@pytest.fixture
def pagerduty(simulator, db):
    app = LocalWarroom(simulator, local_settings(simulator, db, pagerduty_webhook_secrets=PD_SECRET))
    yield app
    app.stop()


def deliver(app: LocalWarroom, body: bytes, delivery_id: str) -> httpx.Response:
    headers = {
        "content-type": "application/json",
        "x-pagerduty-signature": pagerduty_signature(PD_SECRET, body),
        "x-webhook-id": delivery_id,
    }
    return httpx.post(f"{app.server.url}/pagerduty/webhook", content=body, headers=headers)


def outcome(delivery_id: str) -> str | None:
    """What processing made of a stored delivery ("" while unprocessed); None if it was not stored."""
    with session_scope() as session:
        stored = session.execute(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
        delivery = stored.scalar_one_or_none()
        return None if delivery is None else delivery.outcome if delivery.processed_at else ""


@given(body=pagerduty_bodies())
@EXAMPLES
def test_malformed_pagerduty_webhooks_never_get_a_5xx_nor_open_anything(pagerduty, body):
    pagerduty.sim.reset()
    delivery_id = f"bad-{next(deliveries)}"
    response = deliver(pagerduty, body, delivery_id)
    assert response.status_code in (202, 400), response.text
    assert_nothing_changed(pagerduty, WebhookDelivery, Job)  # the job that processed it
    if response.status_code == 202:
        assert outcome(delivery_id).startswith(("could not be processed: ", "ignored "))
    else:
        assert outcome(delivery_id) is None


def test_a_malformed_event_is_set_aside_without_holding_up_the_batch_it_came_in(pagerduty):
    spoiled = with_field(PD_EVENT, ("data", "service"), "Checkout API")
    assert deliver(pagerduty, json.dumps({"event": spoiled}).encode(), "spoiled").status_code == 202
    assert deliver(pagerduty, json.dumps({"event": PD_EVENT}).encode(), "sound").status_code == 202
    pagerduty.settle()
    assert outcome("spoiled") == "could not be processed: event.data.service is not an object"
    assert outcome("sound") == "processed"
    with session_scope() as session:
        [alert] = session.execute(select(Alert)).scalars()
        assert alert.title == "Checkout 5xx rate above 5%"
