"""A stored PagerDuty delivery's event is read only when every field processing uses has its shape."""

from __future__ import annotations

import json

import pytest

from bot.alerts.events import read_event
from bot.incidents.errors import InvalidInput
from storage.text import load_json, storable
from tests.shapes import PD_EVENT as EVENT


def body(event: object) -> str:
    return json.dumps({"event": event})


def with_data(**changes: object) -> str:
    return body({**EVENT, "data": {**EVENT["data"], **changes}})


def test_a_well_formed_event_is_read_as_sent():
    assert read_event(body(EVENT)) == EVENT


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("[]", "no event object"),
        (json.dumps({"event": "incident.triggered"}), "no event object"),
        (body({**EVENT, "event_type": ["incident.triggered"]}), "event.event_type is not text"),
        (body({**EVENT, "data": [EVENT["data"]]}), "event.data is not an object"),
        (body({**EVENT, "agent": "Alice"}), "event.agent is not an object"),
        (with_data(service="Checkout API"), "event.data.service is not an object"),
        (with_data(priority="P1"), "event.data.priority is not an object"),
        (with_data(title={"text": "down"}), "event.data.title is not text"),
        (with_data(id=12345), "event.data.id is not text"),
        (with_data(urgency="high" * 6), "event.data.urgency is not text of up to 20 characters"),
        (with_data(service={"id": "P" * 65}), "event.data.service.id is not text of up to 64"),
        (body({**EVENT, "occurred_at": "2026-11-24T03:12:09"}), "not a time with its zone"),
        (body({**EVENT, "occurred_at": "9999-12-31T23:59:59-14:00"}), "not a time with its zone"),
        (body({**EVENT, "occurred_at": "yesterday"}), "not a time with its zone"),
        (with_data(title="Checkout\x00down"), "NUL"),
        ('{"event": {"n": NaN}}', "not JSON"),
        ("not json", "not JSON"),
    ],
)
def test_a_malformed_event_is_refused_saying_what_is_wrong(stored, reason):
    with pytest.raises(InvalidInput, match=reason):
        read_event(stored)


def test_json_the_databases_cannot_keep_is_refused():
    assert storable("Checkout — down ✓") and not storable("a\x00b") and not storable("\ud83d")
    for text in ['"\\u0000"', '"\\udc00"', "NaN", "-Infinity", "1e999", "[" * 3000, "[[[1]]]"]:
        with pytest.raises(ValueError):
            load_json(text, max_depth=2)
    assert load_json('{"a": [1.5, "\\ud83d\\udd25"]}', max_depth=2) == {"a": [1.5, "🔥"]}
