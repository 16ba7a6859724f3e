"""The reminder's buttons: "Post update" opens a form, "Snooze 15 min" puts the next one off."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.incidents.changes import incident_for_action
from bot.incidents.errors import InvalidInput
from bot.incidents.notes import post_update
from bot.incidents.permissions import Action
from bot.incidents.reminders import snooze_reminder
from bot.incidents.rules import clean_note
from bot.slack.effects import apply_outcome, context_for, submit_for
from bot.slack.views.controls import control_metadata, submitted_value
from bot.slack.views.reminder import POST_UPDATE, SNOOZE, UPDATE_FORM, update_form
from storage.session import run_in_session


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the reminder's buttons and the update form."""

    @app.action(POST_UPDATE)
    async def on_post_update(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user, channel = body["user"]["id"], body["channel"]["id"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            incident = await run_in_session(incident_for_action, int(action["value"]), Action.NOTE, ctx)
            await client.views_open(trigger_id=body["trigger_id"], view=update_form(incident))

        submit_for(deps, job, user, channel)

    @app.view(UPDATE_FORM)
    async def on_update_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id, _, channel = control_metadata(view)
        try:
            text = clean_note(submitted_value(view))
        except InvalidInput as exc:
            await ack(response_action="errors", errors={"value": exc.user_message[:150]})
            return
        await ack()
        user = body["user"]["id"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            await apply_outcome(deps, await run_in_session(post_update, incident_id, text, ctx))

        submit_for(deps, job, user, channel)

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

        submit_for(deps, job, user, channel)
