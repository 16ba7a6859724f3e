"""Closing and the postmortem: `/incident close` (and the card's Close button) open the close
form; saving it records the close job, which closes the incident and posts the draft
(bot/flows/closing.py). `/incident postmortem` records the job that posts it again."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.flows.closing import CLOSE as CLOSE_JOB
from bot.flows.closing import POSTMORTEM
from bot.incidents.changes import for_incident
from bot.postmortem.closing import ReviewInvalid, clean_review, closing_form
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import record_click
from bot.slack.forms import press_opens_form
from bot.views.closing import CALLBACK_ID, close_modal, read_close_form
from bot.views.controls import CLOSE
from storage.session import run_in_session


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add `close` and `postmortem`, the card's Close button and the close form."""
    router.add(
        Subcommand(
            "close",
            "close",
            "close a resolved incident: a short form, then the postmortem draft is posted.",
            ("/incident close",),
            on_close_command,
        )
    )
    router.add(
        Subcommand(
            "postmortem",
            "postmortem",
            "post the postmortem draft again, from what is recorded now.",
            ("/incident postmortem",),
            on_postmortem_command,
        )
    )

    app.action(CLOSE)(press_opens_form(deps, closing_form, close_modal))

    @app.view(CALLBACK_ID)
    async def on_close_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id, channel, answers = read_close_form(view)
        try:
            review = clean_review(answers)
        except ReviewInvalid as exc:
            await ack(response_action="errors", errors={k: v[:150] for k, v in exc.errors.items()})
            return
        where = channel or body["user"]["id"]
        await record_click(deps, CLOSE_JOB, body, where, incident_id=incident_id, review=asdict(review))
        await ack()


async def on_close_command(ctx: CommandContext) -> None:
    """Open the close form, once the asker may close a resolved incident."""
    if ctx.args:
        await ctx.refuse("`/incident close` takes no text: it opens a short form.")
        return
    await ctx.ack()

    async def job() -> None:
        asker = await ctx.asker()
        closing = await run_in_session(for_incident, ctx.number, ctx.channel_id, closing_form, asker)
        await ctx.open_form(close_modal(closing, ctx.channel_id))

    ctx.in_background(job, "/incident close", urgent=True)


async def on_postmortem_command(ctx: CommandContext) -> None:
    """Post the draft again in the war room, built from what is recorded now."""
    if ctx.args:
        await ctx.refuse("`/incident postmortem` takes no text.")
        return
    await ctx.record(POSTMORTEM)
    await ctx.ack()
