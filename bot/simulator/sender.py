"""Slack's side of a request: build slash commands, interactions and events, sign, send."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.http.signing import slack_signature

_ids = itertools.count(1)


class SlackSender:
    """Sends signed requests to a Warroom `/slack/events` URL, as Slack would."""

    def __init__(self, events_url: str, signing_secret: str, *, team_id: str = "T0TEAM") -> None:
        self.events_url = events_url
        self.secret = signing_secret
        self.team_id = team_id
        self.http = httpx.Client(timeout=10)

    def post(self, body: bytes, content_type: str, **headers: str) -> httpx.Response:
        """POST a raw body with a valid signature (headers given here override it)."""
        timestamp = str(int(time.time()))
        signed = {
            "content-type": content_type,
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": slack_signature(self.secret, timestamp, body),
        }
        signed.update({name.replace("_", "-"): value for name, value in headers.items()})
        return self.http.post(self.events_url, content=body, headers=signed)

    def command_body(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0GENERAL",
        response_url: str = "",
        trigger_id: str | None = None,
    ) -> bytes:
        """A `/incident` slash command body, form-encoded field by field."""
        fields = {
            "token": "unused",
            "team_id": self.team_id,
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower().removeprefix("u0"),
            "command": "/incident",
            "text": text,
            "api_app_id": "A0WARROOM",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or new_trigger_id(),
        }
        return urlencode(fields).encode()

    def command(self, text: str, **options: Any) -> httpx.Response:
        """Send `/incident <text>`."""
        return self.post(self.command_body(text, **options), "application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        """Send an interactive payload (button, modal submission, shortcut)."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def view_submission(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = "U0ALICE"
    ) -> httpx.Response:
        """Submit a modal Warroom opened, with `values` as Slack's `state.values`."""
        submitted = {**view, "state": {"values": values}}
        submitted.setdefault("id", f"V{next(_ids):08d}")
        return self.interaction(
            {
                "type": "view_submission",
                "team": {"id": self.team_id, "domain": "example"},
                "user": {
                    "id": user,
                    "username": user.lower(),
                    "name": user.lower(),
                    "team_id": self.team_id,
                },
                "api_app_id": "A0WARROOM",
                "token": "unused",
                "trigger_id": new_trigger_id(),
                "view": submitted,
                "response_urls": [],
                "is_enterprise_install": False,
            }
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()


def new_trigger_id() -> str:
    """A fresh trigger id in Slack's shape."""
    n = next(_ids)
    return f"{n}.{int(time.time())}.{n:032x}"
