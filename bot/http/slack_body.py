"""What a signed Slack request is, read once before Bolt sees it.

Bolt parses bodies itself and raises on shapes Slack never sends (a `payload` that is not JSON, a
`team` that is a number, an `event` that is a list), which the server answered with a 500. Here a
body is read by Slack's own rules: bounded, strict JSON, and the right type wherever Bolt looks to
build its context and choose a listener (slack_bolt/request/internals.py and
listener_matcher/builtins.py). What passes is what Bolt dispatches (`bot.http.bolt`); the ids are
what the workspace check reads. An unknown but well-formed type passes: Bolt answers it 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from storage.text import load_json, storable

MAX_BODY_BYTES = 1024 * 1024  # Slack's largest, a 100-block view submission, is far smaller
MAX_DEPTH = 64
ID_MAX = 32  # Slack ids are about 11 characters; the tables keep 32
NAME_MAX = 255  # Slack's limit for callback_id, action_id and block_id
URL_MAX = 3000
_FORM, _JSON = "application/x-www-form-urlencoded", "application/json"


class Kind(StrEnum):
    """Which of Slack's requests a body is."""

    COMMAND = "command"
    INTERACTIVE = "interactive"
    EVENT = "event"  # an Events API envelope: event_callback, app_rate_limited, or a newer type
    URL_VERIFICATION = "url_verification"
    SSL_CHECK = "ssl_check"


@dataclass(frozen=True)
class SlackRequest:
    """A well-formed Slack request: what it is, the ids it names, and the body Bolt dispatches."""

    kind: Kind
    type: str  # the payload's or envelope's `type`; for a slash command, the command
    body: dict[str, Any]
    team_id: str | None = None  # None only for url_verification and ssl_check
    enterprise_id: str | None = None
    api_app_id: str | None = None


@dataclass(frozen=True)
class Problem:
    """Why a body is refused, answered as plain text with `status`."""

    reason: str
    status: int = 400


class _Malformed(ValueError):
    """The body breaks a rule; the message is the reason given."""


@dataclass(frozen=True)
class _Rule:
    """What a field may hold when present: a string of up to `text_max` characters, an object
    (whose fields follow the same rules), a list of objects, or None."""

    shape: str
    text_max: int = 0
    objects: bool = False
    listed: bool = False
    null: bool = True


_SHAPES = (
    (
        _Rule("an id", ID_MAX),
        ("id", "team_id", "enterprise_id", "user_id", "channel_id", "api_app_id", "app_installed_team_id"),
    ),
    (
        _Rule(f"text of up to {NAME_MAX} characters", NAME_MAX),
        (
            *("type", "subtype", "command", "callback_id", "action_id", "block_id", "trigger_id"),
            *("thread_ts", "challenge", "function_execution_id", "bot_access_token"),
        ),
    ),
    (_Rule("a URL", URL_MAX), ("response_url",)),
    (_Rule("an id or an object", ID_MAX, objects=True), ("team", "enterprise", "user", "channel")),
    (
        _Rule("an object", objects=True),
        ("view", "message", "previous_message", "item", "assistant_thread", "function_data", "container"),
    ),
    (_Rule("an object", objects=True, null=False), ("event",)),  # Bolt reads body.get("event", {}).get(…)
    (_Rule("a list of objects", listed=True), ("authorizations", "response_urls", "actions")),
)
_FIELDS = {name: rule for rule, names in _SHAPES for name in names}
# What Bolt chooses a listener by, beyond `type`: it must be there, and be text.
_BY_CALLBACK = (
    *("shortcut", "message_action", "interactive_message", "workflow_step_edit"),
    *("dialog_submission", "dialog_cancellation", "dialog_suggestion"),
)
_ROUTED_BY: dict[str, tuple[str, ...]] = {
    "event_callback": ("event", "type"),
    "url_verification": ("challenge",),
    "block_actions": ("actions", "*", "action_id"),
    "block_suggestion": ("action_id",),
    "view_submission": ("view", "callback_id"),
    "view_closed": ("view", "callback_id"),
    **dict.fromkeys(_BY_CALLBACK, ("callback_id",)),
}
_COMMAND_NEEDS = ("command", "team_id", "user_id", "channel_id", "response_url", "trigger_id")


def read_slack_body(body: bytes, content_type: str | None) -> SlackRequest | Problem:
    """What a signed body is, or the problem with it (413 when too large, else 400)."""
    if len(body) > MAX_BODY_BYTES:
        return Problem(f"body over {MAX_BODY_BYTES} bytes", 413)
    media = (content_type or "").partition(";")[0].strip().lower()
    try:
        if media == _JSON:
            return _envelope(_json_object(body.decode(), "body"))
        if media == _FORM:
            return _form(body.decode())
    except UnicodeDecodeError:
        return Problem("body is not UTF-8")
    except _Malformed as exc:
        return Problem(str(exc))
    return Problem(f"content type must be {_JSON} or {_FORM}")


def _form(text: str) -> SlackRequest:
    fields = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
    if not all(storable(name) and storable(value) for name, value in fields.items()):
        raise _Malformed("a form field holds NUL")
    if "payload" in fields:
        return _interaction(_json_object(fields["payload"], "payload"))
    if fields.get("ssl_check") == "1":
        return SlackRequest(Kind.SSL_CHECK, "ssl_check", fields)
    if "command" not in fields:
        raise _Malformed("form has neither a command nor a payload")
    _check(fields, "form")
    if missing := [name for name in _COMMAND_NEEDS if name not in fields]:
        raise _Malformed(f"command has no {', '.join(missing)}")
    if not fields["team_id"]:
        raise _Malformed("command names no team")
    return SlackRequest(
        Kind.COMMAND,
        fields["command"],
        fields,
        team_id=fields["team_id"],
        enterprise_id=fields.get("enterprise_id") or None,
        api_app_id=fields.get("api_app_id") or None,
    )


def _interaction(payload: dict[str, Any]) -> SlackRequest:
    kind = _checked_type(payload, "payload")
    _require(payload, ("user", "id"), "payload")
    # org-wide installs send `team: null`; the person's workspace is then on `user`
    team = _id_of(payload.get("team")) or payload["user"].get("team_id")
    if not team:
        raise _Malformed("payload names no team")
    return SlackRequest(
        Kind.INTERACTIVE,
        kind,
        payload,
        team_id=team,
        enterprise_id=_id_of(payload.get("enterprise")),
        api_app_id=payload.get("api_app_id") or None,
    )


def _envelope(body: dict[str, Any]) -> SlackRequest:
    kind = _checked_type(body, "body")
    if kind == "url_verification":
        return SlackRequest(Kind.URL_VERIFICATION, kind, body)
    # the installation the event is for comes first, as Bolt reads it
    installation = (body.get("authorizations") or [{}])[0]
    team = installation.get("team_id") or body.get("team_id")
    if not team:
        raise _Malformed("body names no team")
    return SlackRequest(
        Kind.EVENT,
        kind,
        body,
        team_id=team,
        enterprise_id=installation.get("enterprise_id") or body.get("enterprise_id"),
        api_app_id=body.get("api_app_id") or None,
    )


def _json_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = load_json(text, max_depth=MAX_DEPTH)
    except ValueError as exc:
        raise _Malformed(f"{name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _Malformed(f"{name} is not a JSON object")
    return value


def _checked_type(body: dict[str, Any], where: str) -> str:
    """The body's `type`, once every field Bolt reads has its shape; _Malformed otherwise."""
    _check(body, where)
    _require(body, ("type",), where)
    kind = str(body["type"])
    if kind in _ROUTED_BY:
        _require(body, _ROUTED_BY[kind], where)
    return kind


def _check(body: dict[str, Any], where: str) -> None:
    for key, value in body.items():
        rule = _FIELDS.get(key)
        if rule is None or (value is None and rule.null):
            continue
        path = f"{where}.{key}"
        if rule.text_max and isinstance(value, str) and len(value) <= rule.text_max:
            continue
        if isinstance(value, dict) and rule.objects:
            _check(value, path)
        elif isinstance(value, list) and rule.listed and all(isinstance(item, dict) for item in value):
            for n, item in enumerate(value):
                _check(item, f"{path}[{n}]")
        else:
            raise _Malformed(f"{path} must be {rule.shape}")


def _require(value: Any, path: tuple[str, ...], where: str) -> None:
    """`path` leads to text in `value` (`*`: through every item of a non-empty list)."""
    if not path:
        if not isinstance(value, str):
            raise _Malformed(f"{where} must be text")
        return
    step, rest = path[0], path[1:]
    if step == "*":
        if not isinstance(value, list) or not value:
            raise _Malformed(f"{where} must list something")
        for n, item in enumerate(value):
            _require(item, rest, f"{where}[{n}]")
    elif isinstance(value, dict) and step in value:
        _require(value[step], rest, f"{where}.{step}")
    else:
        raise _Malformed(f"{where} has no {step}")


def _id_of(value: Any) -> str | None:
    """The id of a field Slack sends as an id or as an object with one."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None
