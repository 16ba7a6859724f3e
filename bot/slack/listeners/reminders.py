"""The update reminder's "Snooze 15 min" button ("Post update" is a card control)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.incidents.reminders import snooze_reminder
from bot.slack.effects import context_for, submit_for
from bot.slack.views.reminder import SNOOZE
from storage.session import run_in_session


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the snooze button."""

    @app.action(SNOOZE)
    async def on_snooze(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel, ts = body["user"]["id"], body["channel"]["id"], body["container"]["message_ts"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            incident = await run_in_session(snooze_reminder, int(action["value"]), ctx)
            until = f"{incident.reminder_snoozed_until:%H:%M} UTC"
            text = f":zzz: <@{user}> snoozed the update reminder for {incident.ref} until {until}."
            await deps.slack.update(
                channel, ts, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
            )

        submit_for(deps, job, body, channel)
