"""A stored delivery's event (PagerDuty) or signals (every other source), checked where
processing reads them.

A delivery is stored once its envelope is JSON with an `event` object; what is inside is
PagerDuty's to send and ours to distrust. A field of the wrong type, or longer than the column
that keeps it, would raise in the middle of a batch and roll back every delivery in it, again on
each retry; refused here, the one delivery is set aside with the reason instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from bot.alerts.sources import Signal, Stored
from bot.incidents.errors import InvalidInput
from storage.text import load_json

MAX_DEPTH = 64

# Where processing reads the event when the field is there: objects, then text, with the most
# characters kept as they are (None: processing shortens it itself).
_OBJECTS: tuple[tuple[str, ...], ...] = (("agent",), ("data",), ("data", "service"), ("data", "priority"))
_TEXTS: dict[tuple[str, ...], int | None] = {
    ("event_type",): None,
    ("occurred_at",): None,
    ("agent", "summary"): None,
    ("data", "id"): None,
    ("data", "incident_key"): None,
    ("data", "title"): None,
    ("data", "urgency"): 20,
    ("data", "service", "id"): 64,
    ("data", "service", "summary"): None,
    ("data", "priority", "summary"): None,
}


def read_delivery(body: str) -> dict[str, Any] | list[Signal]:
    """A stored delivery: PagerDuty's event, or the signals another source's alerts were read
    into (kept by Warroom itself, so read straight into their model); InvalidInput saying what is
    wrong with it."""
    if body.startswith('{"source":'):
        try:
            return Stored.model_validate_json(body).signals
        except ValidationError as exc:
            raise InvalidInput(f"a stored signal does not fit: {exc.errors()[0]['msg']}") from None
    return _event(_load(body))


def read_event(body: str) -> dict[str, Any]:
    """The `event` of a stored PagerDuty delivery; InvalidInput saying what is wrong with it."""
    return _event(_load(body))


def _load(body: str) -> Any:
    try:
        return load_json(body, max_depth=MAX_DEPTH)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON a database can keep: {exc}") from None


def _event(envelope: Any) -> dict[str, Any]:
    event = envelope.get("event") if isinstance(envelope, dict) else None
    if not isinstance(event, dict):
        raise InvalidInput("the body has no event object")
    for path in _OBJECTS:
        if _at(event, path) is not None and not isinstance(_at(event, path), dict):
            raise InvalidInput(f"event.{'.'.join(path)} is not an object")
    for path, most in _TEXTS.items():
        value = _at(event, path)
        if value is not None and not (isinstance(value, str) and (most is None or len(value) <= most)):
            longest = "" if most is None else f" of up to {most} characters"
            raise InvalidInput(f"event.{'.'.join(path)} is not text{longest}")
    if event.get("occurred_at") and not _zoned_time(event["occurred_at"]):
        raise InvalidInput("event.occurred_at is not a time with its zone")
    return event


def _zoned_time(text: str) -> bool:
    """Whether the text is an ISO 8601 time with an offset that UTC can hold (a naive or
    out-of-range time would fail when stored)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return moment.tzinfo is not None


def _at(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
