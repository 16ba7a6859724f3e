"""The update reminder's "Snooze 15 min" button ("Post update" is a card control)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.flows.reminders import SNOOZE as SNOOZE_JOB
from bot.slack.effects import record_click
from bot.views.reminder import SNOOZE


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the snooze button: record the snooze job (bot/flows/reminders.py), then ack."""

    @app.action(SNOOZE)
    async def on_snooze(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        channel, ts, value = body["channel"]["id"], body["container"]["message_ts"], str(action.get("value"))
        if value.isascii() and value.isdigit():  # anything else is not a button Warroom made
            await record_click(deps, SNOOZE_JOB, body, channel, incident_id=int(value), ts=ts)
        await ack()
