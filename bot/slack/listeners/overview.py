"""`/incident list` and `/incident timeline`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot import clock
from bot.deps import Deps
from bot.incidents.notes import readable_timeline, visible_open_incidents
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.views.overview import incident_list, timeline_messages
from storage.session import in_session, run_in_session

RESPONSE_URL_POSTS = 5  # Slack accepts five posts per response_url


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add `list` and `timeline` to the router."""
    router.add(
        Subcommand(
            "list",
            "list",
            "the open incidents: severity, status, IC, age, channel.",
            ("/incident list",),
            on_list,
        )
    )
    router.add(
        Subcommand(
            "timeline",
            "timeline",
            "the incident's timeline, only to you.",
            ("/incident timeline", "/incident INC-4 timeline"),
            on_timeline,
        )
    )


async def on_list(ctx: CommandContext) -> None:
    """Answer at once from the database: one short read."""
    incidents, hidden = in_session(visible_open_incidents, ctx.user_id, ctx.channel_id)
    text, blocks = incident_list(incidents, now=clock.now(), hidden=hidden)
    await ctx.answer(text, blocks)


async def on_timeline(ctx: CommandContext) -> None:
    """Ack, then send the timeline in the reader's timezone from the worker."""
    await ctx.ack()

    async def job() -> None:
        context = await ctx.asker()
        incident, events = await run_in_session(readable_timeline, ctx.number, ctx.channel_id, context)
        reader = await ctx.deps.slack.user(ctx.user_id)
        messages = timeline_messages(incident, events, reader.get("tz"))
        for blocks in messages[-RESPONSE_URL_POSTS:]:
            await ctx.tell(f"Timeline of {incident.ref}", blocks)

    ctx.in_background(job, "/incident timeline")
