"""Follow-ups: `/incident followup`, its form, `/incident followups`, the "Mark done" button and
"File a GitHub issue"."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot import clock
from bot.deps import Deps
from bot.flows import tickets
from bot.flows.followups import ADD, DONE, LIST, draft_payload, shows
from bot.incidents.changes import for_incident
from bot.incidents.errors import InvalidInput
from bot.incidents.followups import USAGE, earliest_today, incident_for_followups, parse_followup
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import record_click
from bot.tickets.service import incident_service
from bot.views.followups import (
    DONE_PATTERN,
    FORM,
    TICKET,
    followup_form,
    form_metadata,
    read_followup_form,
    wants_ticket,
)
from storage.session import run_in_session


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add `followup` and `followups` to the router; listen for the form and the button."""
    router.add(
        Subcommand(
            "followup",
            USAGE.removeprefix("/incident "),
            "record an action item (no text opens a form).",
            ("/incident followup @bob Alert on queue depth due 2030-01-31",),
            on_followup,
        )
    )
    router.add(
        Subcommand(
            "followups", "followups", "the follow-ups, only to you.", ("/incident followups",), on_list
        )
    )

    @app.view(FORM)
    async def on_form_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        draft, problems = read_followup_form(view, earliest_today(clock.now()))
        if draft is None:
            await ack(response_action="errors", errors=problems)
            return
        incident_id, channel = form_metadata(view)
        payload = draft_payload(draft) | {"ticket": wants_ticket(view)}
        await record_click(deps, ADD, body, channel, incident_id=incident_id, **payload)
        await ack()

    @app.action(TICKET)
    async def on_ticket(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        channel = body["channel"]["id"]
        await record_click(deps, tickets.ASK, body, channel, followup_id=str(action.get("value") or ""))
        await ack()

    @app.action(DONE_PATTERN)
    async def on_done(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        channel, value = body["channel"]["id"], str(action.get("value") or "")
        container, message = body.get("container") or {}, body.get("message") or {}
        ts = message.get("ts") if not container.get("is_ephemeral") and shows(message, value) else None
        await record_click(deps, DONE, body, channel, followup_id=value, ts=ts)
        await ack()


async def on_followup(ctx: CommandContext) -> None:
    """Record the follow-up's job from the text; without text, open the form."""
    if not ctx.args:
        await ctx.ack()
        ctx.in_background(lambda: _open_form(ctx), "/incident followup form", urgent=True)
        return
    try:
        draft = parse_followup(ctx.args, earliest_today(clock.now()))
    except InvalidInput as exc:
        await ctx.refuse(exc.user_message)
        return
    await ctx.record(ADD, **draft_payload(draft))
    await ctx.ack()


async def _open_form(ctx: CommandContext) -> None:
    context = await ctx.asker()
    incident = await run_in_session(for_incident, ctx.number, ctx.channel_id, incident_for_followups, context)
    tracker = (
        ctx.deps.trackers.choose(await run_in_session(incident_service, incident.id))
        if ctx.deps.trackers
        else None
    )
    await ctx.open_form(followup_form(incident, ctx.channel_id, tracker=tracker.name if tracker else None))


async def on_list(ctx: CommandContext) -> None:
    """Record the job that sends every follow-up of the incident, only to the person who asked."""
    await ctx.record(LIST)
    await ctx.ack()
