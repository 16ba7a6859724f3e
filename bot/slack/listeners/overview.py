"""`/incident list` and `/incident timeline`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot import clock
from bot.deps import Deps
from bot.flows.overview import TIMELINE
from bot.incidents.notes import visible_open_incidents
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.views.overview import incident_list
from storage.session import in_session


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
    """Record the job that sends the timeline, in the reader's timezone, only to them."""
    await ctx.record(TIMELINE)
    await ctx.ack()
