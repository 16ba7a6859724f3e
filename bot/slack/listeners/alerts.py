"""Triage from Slack: the buttons on an alert notice, their form, and `/incident triage`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.alerts.overrides import get_alert
from bot.deps import Deps
from bot.flows.triage import ACK, DECLARE_JOB, LIST, OVERRIDE, REVERT
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import record_click, submit_for
from bot.views.alerts import (
    ACKNOWLEDGE,
    DECLARE,
    DOWNGRADE,
    FORM,
    NOISE,
    ROUTE,
    read_triage_form,
    triage_form,
)
from storage.session import run_in_session

REVERT_USAGE = "Name the rule to end: `/incident triage revert <n>`; `/incident triage` lists them."


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Listen for the notice buttons and the form; add `triage` to the router."""
    router.add(
        Subcommand(
            "triage",
            "triage [revert <n>]",
            "the triage rules made from Slack, or end one (admins and the triage group).",
            ("/incident triage", "/incident triage revert 3"),
            on_triage,
        )
    )
    for action_id, kind in ((DECLARE, DECLARE_JOB), (ACKNOWLEDGE, ACK)):
        app.action(action_id)(_on_press(deps, kind))
    for action_id in (NOISE, DOWNGRADE, ROUTE):
        app.action(action_id)(_on_form_button(deps, action_id))

    @app.view(FORM)
    async def on_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        chosen = read_triage_form(view)
        if not chosen["reason"].strip():
            await ack(
                response_action="errors", errors={"reason": "Say why, for whoever reviews the alert report."}
            )
            return
        await record_click(deps, OVERRIDE, body, chosen.pop("channel"), **chosen)
        await ack()


def _on_press(deps: Deps, kind: str) -> Any:
    async def on_press(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        channel, ts = body["channel"]["id"], (body.get("message") or {}).get("ts")
        await record_click(deps, kind, body, channel, alert=int(action["value"]), ts=ts)
        await ack()

    return on_press


def _on_form_button(deps: Deps, button: str) -> Any:
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        channel, ts = body["channel"]["id"], str((body.get("message") or {}).get("ts") or "")

        async def open_form() -> None:  # at once, while the trigger lives
            alert = await run_in_session(get_alert, int(action["value"]))
            await deps.slack.open_form(body["trigger_id"], triage_form(alert, button, channel=channel, ts=ts))

        submit_for(deps, open_form, body, channel, urgent=True)

    return on_button


async def on_triage(ctx: CommandContext) -> None:
    """`/incident triage` lists; `/incident triage revert <n>` ends one, after the ack."""
    verb, _, rest = ctx.args.strip().partition(" ")
    if not verb:
        await ctx.record(LIST)
        await ctx.ack()
        return
    number = rest.strip().lstrip("#")
    if verb.lower() != "revert" or not number.isdigit():
        await ctx.refuse(REVERT_USAGE)
        return
    await ctx.record(REVERT, override=int(number))
    await ctx.ack()
