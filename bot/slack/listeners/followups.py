"""Follow-ups: `/incident followup`, its form, `/incident followups` and the "Mark done" button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot import clock
from bot.deps import Deps
from bot.incidents.changes import for_incident
from bot.incidents.errors import InvalidInput
from bot.incidents.followups import (
    USAGE,
    add_followup,
    earliest_today,
    followup_id,
    incident_for_followups,
    list_followups,
    mark_done,
    parse_followup,
)
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import context_for, require_person, submit_for
from bot.slack.followups import post_followup, show_done
from bot.slack.views.followups import (
    DONE_PATTERN,
    FORM,
    followup_form,
    followup_list,
    form_metadata,
    read_followup_form,
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
        await ack()
        user = body["user"]["id"]

        async def job() -> None:
            if draft.owner_id:
                await require_person(deps, draft.owner_id, "own follow-ups")
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            key = f"view:{view['id']}"
            followup, incident, created = await run_in_session(add_followup, incident_id, draft, ctx, key)
            problem = await post_followup(deps, followup, incident) if created else None
            if problem:
                await deps.slack.whisper(channel, user, problem)

        submit_for(deps, job, body, channel)

    @app.action(DONE_PATTERN)
    async def on_done(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body["channel"]["id"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            followup, _ = await run_in_session(mark_done, followup_id(action.get("value")), ctx)
            await show_done(deps, followup, body)

        submit_for(deps, job, body, channel)


async def on_followup(ctx: CommandContext) -> None:
    """Record at once from the text; without text, open the form."""
    if not ctx.args:
        await ctx.ack()
        ctx.in_background(lambda: _open_form(ctx), "/incident followup form", urgent=True)
        return
    try:
        draft = parse_followup(ctx.args, earliest_today(clock.now()))
    except InvalidInput as exc:
        await ctx.refuse(exc.user_message)
        return
    await ctx.ack()
    key = f"trigger:{ctx.command['trigger_id']}"

    async def job() -> None:
        if draft.owner_id:
            await require_person(ctx.deps, draft.owner_id, "own follow-ups")
        context = await ctx.asker()
        followup, incident, created = await run_in_session(
            for_incident, ctx.number, ctx.channel_id, add_followup, draft, context, key
        )
        if created:
            problem = await post_followup(ctx.deps, followup, incident)
        else:
            problem = f"That follow-up is already recorded on {incident.ref}."
        if problem:
            await ctx.tell(problem)

    ctx.in_background(job, "/incident followup")


async def _open_form(ctx: CommandContext) -> None:
    context = await ctx.asker()
    incident = await run_in_session(for_incident, ctx.number, ctx.channel_id, incident_for_followups, context)
    await ctx.open_form(followup_form(incident, ctx.channel_id))


async def on_list(ctx: CommandContext) -> None:
    """Ack, then send every follow-up of the incident, only to the person who asked."""
    await ctx.ack()

    async def job() -> None:
        context = await ctx.asker()
        incident, followups = await run_in_session(list_followups, ctx.number, ctx.channel_id, context)
        text, blocks = followup_list(incident, followups, clock.now().date())
        await ctx.tell(text, blocks)

    ctx.in_background(job, "/incident followups")
