"""Declaring: `/incident declare [sev1-4] [title]` and the declare modal."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot import clock
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.rooms import declare
from bot.incidents.errors import InvalidInput
from bot.incidents.rules import TITLE_MAX, Declaration, clean_title, parse_declare
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.text import escape_mrkdwn
from bot.views.declare import (
    CALLBACK_ID,
    PAGE_SERVICE,
    declare_modal,
    modal_context,
    read_declare_form,
    scenario_list,
    service_choice,
    service_options,
)

OPTIONS_TIMEOUT = 2.0  # seconds: Slack shows no options after 3


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add `declare` to the router and listen for the modal's submission."""
    router.add(
        Subcommand(
            name="declare",
            usage="declare [sev1-4] [title]",
            summary="open an incident with its own war-room channel; no title opens a form.",
            examples=("/incident declare sev2 Checkout returns 500s", "/incident declare"),
            handler=on_declare_command,
        )
    )
    router.add(
        Subcommand(
            name="drill",
            usage="drill [sev1-4] [scenario]",
            summary="practise a runbook's scenario in a real war room: nobody is paged, every run is dry.",
            examples=("/incident drill", "/incident drill checkout-5xx-after-deploy"),
            handler=on_drill_command,
        )
    )

    @app.options(PAGE_SERVICE)
    async def on_service_query(ack: AsyncAck, payload: dict[str, Any]) -> None:
        """The picker's options: PagerDuty services matching what was typed, within Slack's 3 s."""
        gateway = deps.pagerduty
        try:
            assert gateway is not None
            query = str(payload.get("value") or "").strip()[:100]
            found = await asyncio.wait_for(gateway.search_services(query), OPTIONS_TIMEOUT)
        except (AssertionError, TimeoutError, WarroomError):
            await ack(options=[])
            return
        await ack(options=service_options([(service.id, service.name) for service in found]))

    @app.view(CALLBACK_ID)
    async def on_declare_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Declare, and record the room's opening (and the page chosen), then ack: one write."""
        declaration, problems = read_declare_form(view)
        if declaration is None:
            await ack(response_action="errors", errors=problems)
            return
        context = modal_context(view)
        await deps.together.run(
            declare,
            declaration,
            page_service=service_choice(view),
            by=body["user"]["id"],
            at=clock.now(),
            key=f"view:{view['id']}",
            source_channel_id=context.get("channel_id"),
            response_url=context.get("response_url"),
        )
        await ack()
        deps.jobs.wake()


async def on_declare_command(ctx: CommandContext) -> None:
    """Declare at once with a title; open the modal without one."""
    try:
        severity, title = parse_declare(ctx.args)
        if title:
            title = clean_title(title)
    except InvalidInput as exc:
        await ctx.refuse(exc.user_message)
        return
    command = ctx.command
    if not title:
        context = {"channel_id": command["channel_id"], "response_url": command["response_url"]}
        view = declare_modal(severity=severity, context=context, page_picker=ctx.deps.can_page)
        await ctx.ack()
        ctx.open_modal(view)
        return
    await _declare_now(ctx, Declaration(title=title, severity=severity))


async def on_drill_command(ctx: CommandContext) -> None:
    """Start a practice incident on a runbook's scenario; without one, list the scenarios."""
    playbooks = ctx.deps.catalog.playbooks
    if ctx.number is not None:
        await ctx.refuse("`/incident drill` starts a new practice incident; type it without naming one.")
        return
    try:
        severity, scenario = parse_declare(ctx.args)
    except InvalidInput as exc:
        await ctx.refuse(exc.user_message)
        return
    playbook = playbooks.get(scenario.strip().lower())
    if playbook is None:
        await ctx.answer(scenario_list(scenario, [(p.id, p.meta.title) for p in playbooks.values()]))
        return
    title = clean_title(f"Drill: {playbook.meta.title}"[:TITLE_MAX])
    summary = f"Practice incident rehearsing the runbook {playbook.meta.title}."
    await _declare_now(ctx, Declaration(title, severity, summary, drill_of=playbook.id))


async def _declare_now(ctx: CommandContext, declaration: Declaration) -> None:
    """Declare from a command: record it and its room's opening, ack with its number."""
    command = ctx.command
    incident, created = await ctx.deps.together.run(
        declare,
        declaration,
        by=ctx.user_id,
        at=clock.now(),
        key=f"trigger:{command['trigger_id']}",
        source_channel_id=command["channel_id"],
        response_url=command["response_url"],
    )
    if not created:
        await ctx.answer(f"{incident.ref} was already declared from this command.")
        return
    what = "Starting drill" if declaration.drill_of else "Declaring"
    severity = declaration.severity.label
    await ctx.answer(f"{what} {incident.ref} ({severity}): {escape_mrkdwn(declaration.title)}…")
    ctx.deps.jobs.wake()
