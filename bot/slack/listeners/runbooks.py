"""`/incident runbooks` lists the fitting runbooks again; "Read runbook" shows one whole."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.errors import WarroomError
from bot.remediation.runbooks import incident_facts
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import submit_for
from bot.text import noun, plural
from bot.views.runbooks import READ, runbook_message, runbook_modal
from storage.session import in_session


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add `runbooks` to the router and listen for "Read runbook"."""
    router.add(
        Subcommand(
            "runbooks",
            "runbooks",
            "the runbooks that fit this incident, only to you.",
            ("/incident runbooks",),
            on_runbooks,
        )
    )

    @app.action(READ)
    async def on_read(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        playbook = deps.catalog.get(str(action.get("value")))
        channel = body.get("channel", {}).get("id", "")

        async def job() -> None:
            if playbook is None:
                raise WarroomError(
                    "That runbook is no longer loaded; ask an admin to check the playbooks folder."
                )
            await deps.slack.open_form(body["trigger_id"], runbook_modal(playbook))

        submit_for(deps, job, body, channel, urgent=True)


async def on_runbooks(ctx: CommandContext) -> None:
    """Answer at once: one read of the incident, matching is in memory."""
    try:
        incident, facts = in_session(incident_facts, ctx.number, ctx.channel_id)
    except WarroomError as exc:
        await ctx.refuse(exc.user_message)
        return
    fits = ctx.deps.catalog.match(facts)
    if not fits:
        await ctx.answer(f"No runbook in the playbooks folder fits {incident.ref} yet.")
        return
    blocks = [block for fit in fits for block in runbook_message(fit)[1]]
    count = len(fits)
    await ctx.answer(f"{plural(count, 'runbook')} {noun(count, 'fits', 'fit')} {incident.ref}", blocks)
