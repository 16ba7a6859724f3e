"""Adding a war-room message to the timeline: a reaction (:pushpin: by default) or the
"Add to incident timeline" message shortcut. Either records a durable job (bot/flows/capture.py)
that adds a message once, however often Slack delivers the event or people react."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.flows.capture import record_capture

SHORTCUT_ID = "add_to_timeline"


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the timeline reaction and the message shortcut."""

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any], body: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != deps.settings.warroom_timeline_reaction or item.get("type") != "message":
            return
        asked = {"user": event["user"], "team": body.get("team_id", ""), "channel": item["channel"]}
        key = str(body.get("event_id") or f"{item['channel']}:{item['ts']}:{event['user']}")
        await record_capture(deps, key, asked, item["ts"], quiet=True)

    @app.shortcut(SHORTCUT_ID)
    async def on_shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        asked = {
            "user": shortcut["user"]["id"],
            "team": shortcut["team"]["id"],
            "channel": shortcut["channel"]["id"],
            "response_url": shortcut.get("response_url") or "",
        }
        await record_capture(deps, str(shortcut["trigger_id"]), asked, shortcut["message"]["ts"], quiet=False)
        await ack()
