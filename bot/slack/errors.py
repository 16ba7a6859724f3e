"""The one error handler: a domain error becomes an ephemeral sentence, anything else an apology."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.errors import WarroomError

log = logging.getLogger(__name__)
APOLOGY = "Sorry, something went wrong on Warroom's side; it has been logged. Please try again."


def register(app: AsyncApp) -> None:
    """Install the handler on the app."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], response: BoltResponse) -> BoltResponse:
        if isinstance(error, WarroomError):
            text = error.user_message
        else:
            log.error("unhandled error for a %s request", body.get("type") or "command", exc_info=error)
            text = APOLOGY
        if body.get("type") == "view_submission":
            return BoltResponse(status=200, body="")
        return BoltResponse(
            status=200,
            body={"response_type": "ephemeral", "text": text},
            headers={"content-type": ["application/json;charset=utf-8"]},
        )
