"""The one error handler: a domain error becomes an ephemeral sentence, anything else an apology.

A refusal told to a person is logged in one INFO line (who, what they asked, what they were
told), never with a stack: it is Warroom working, not failing. Slack refusing one of Warroom's
calls is a WARNING, for an operator to look at.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.adapters.slack import SlackCallFailed
from bot.errors import WarroomError

log = logging.getLogger(__name__)
APOLOGY = "Sorry, something went wrong on Warroom's side; it has been logged. Please try again."
LOGGED_MAX = 300


def log_refusal(user: str, what: str, told: str) -> None:
    """One INFO line: `user` asked for `what` and was told `told` instead."""
    log.info("refused %s for %s: %s", what, user, _one_line(told))


def log_told(error: BaseException, *, user: str, what: str) -> None:
    """Log a `WarroomError` that `user` is told about `what`: a refusal at INFO, Slack refusing
    Warroom at WARNING. Anything else was logged with its stack by whoever caught it."""
    if isinstance(error, SlackCallFailed):
        log.warning("failed %s for %s: %s", what, user, _one_line(error.user_message))
    elif isinstance(error, WarroomError):
        log_refusal(user, what, error.user_message)


def answer_for(error: BaseException, *, user: str, what: str) -> str:
    """What to tell `user` about `what` not happening (the apology for an unexpected error), logged."""
    log_told(error, user=user, what=what)
    return error.user_message if isinstance(error, WarroomError) else APOLOGY


def asked(body: dict[str, Any]) -> str:
    """What a Slack request asked for, by the names Slack gives it, never by what was typed."""
    kind = str(body.get("type") or "")
    if "command" in body:
        return str(body["command"])
    if kind == "block_actions":
        return f"button {(body.get('actions') or [{}])[0].get('action_id', '?')}"
    if kind == "view_submission":
        return f"form {body.get('view', {}).get('callback_id', '?')}"
    if kind in ("shortcut", "message_action"):
        return f"shortcut {body.get('callback_id', '?')}"
    if kind == "event_callback":
        return f"event {body.get('event', {}).get('type', '?')}"
    return kind or "request"


def asker(body: dict[str, Any]) -> str:
    """The user id of whoever sent a Slack request."""
    user = body.get("user_id") or body.get("user") or body.get("event", {}).get("user")
    return str(user.get("id", "?") if isinstance(user, dict) else user or "?")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:LOGGED_MAX]


def register(app: AsyncApp) -> None:
    """Install the handler on the app."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], response: BoltResponse) -> BoltResponse:
        if not isinstance(error, WarroomError):
            log.error("unhandled error for a %s request", body.get("type") or "command", exc_info=error)
        text = answer_for(error, user=asker(body), what=asked(body))
        if body.get("type") == "view_submission":
            return BoltResponse(status=200, body="")
        return BoltResponse(
            status=200,
            body={"response_type": "ephemeral", "text": text},
            headers={"content-type": ["application/json;charset=utf-8"]},
        )
