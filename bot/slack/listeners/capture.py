"""Adding a war-room message to the timeline: a reaction (:pushpin: by default) or the
"Add to incident timeline" message shortcut. Either adds a message once, however often
Slack delivers the event or people react."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.errors import WarroomError
from bot.incidents.changes import AlreadyChanged
from bot.incidents.errors import IncidentNotFound
from bot.incidents.notes import add_message
from bot.slack.effects import context_for
from bot.slack.errors import answer_for
from storage.session import run_in_session

SHORTCUT_ID = "add_to_timeline"


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the timeline reaction and the message shortcut."""

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any], body: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != deps.settings.warroom_timeline_reaction or item.get("type") != "message":
            return
        deps.worker.submit(
            lambda: _capture(deps, event["user"], body.get("team_id", ""), item["channel"], item["ts"], None),
            name="timeline reaction",
        )

    @app.shortcut(SHORTCUT_ID)
    async def on_shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        message, channel = shortcut["message"], shortcut["channel"]["id"]
        deps.worker.submit(
            lambda: _capture(
                deps,
                shortcut["user"]["id"],
                shortcut["team"]["id"],
                channel,
                message["ts"],
                shortcut.get("response_url"),
            ),
            name="timeline shortcut",
        )


async def _capture(
    deps: Deps, user_id: str, team_id: str, channel: str, ts: str, response_url: str | None
) -> None:
    """Add the message; tell the person how it went (a reaction in a non-war-room is ignored)."""
    try:
        context = await context_for(deps, user_id, team_id, channel)
        found = await deps.slack.message(channel, ts)
        if found is None:
            raise WarroomError("That message is gone, so it cannot go on the timeline.")
        message = {
            "author": str(found.get("user") or found.get("bot_id") or "unknown"),
            "ts": ts,
            "text": str(found.get("text", "")),
            "permalink": await deps.slack.permalink(channel, ts),
            "channel": channel,
        }
        incident, _ = await run_in_session(add_message, channel, message, context)
        reply = f"Added <{message['permalink']}|the message> to the {incident.ref} timeline."
    except IncidentNotFound:
        if response_url is None:
            return
        reply = "This is not an incident war room; use the shortcut on a message in one."
    except AlreadyChanged as exc:
        if response_url is None:
            return
        reply = exc.user_message
    except WarroomError as exc:
        reply = answer_for(exc, user=user_id, what="adding a message to the timeline")
    await _reply(deps, user_id, channel, response_url, reply)


async def _reply(deps: Deps, user_id: str, channel: str, response_url: str | None, text: str) -> None:
    if response_url:
        await deps.slack.respond(response_url, text)
    else:
        await deps.slack.whisper(channel, user_id, text)
