"""Remediation from Slack: Run and Preview on a runbook, the parameter form, Approve and
Reject on a request, `/incident run` and `/incident killswitch`."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.errors import WarroomError
from bot.incidents.changes import find_incident
from bot.incidents.errors import InvalidInput
from bot.remediation.dispatch import set_kill_switch
from bot.remediation.params import parse_assignments, validate_params
from bot.remediation.runs import find_action, resolve_action
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import context_for, submit_for
from bot.slack.remediation import cast_vote, preview_text, request
from bot.slack.views.remediation import APPROVE, FORM, PREVIEW, REJECT, RUN, params_form, read_params_form
from storage.session import run_in_session

USAGE = "killswitch on|off [action|all] [reason…]"


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Listen for the buttons and the form; add `run` and `killswitch` to the router."""
    router.add(
        Subcommand(
            "run",
            "run <action> [name=value…]",
            "ask to run a runbook action (approvals apply).",
            ("/incident run rollback-checkout release=v41",),
            on_run_command,
        )
    )
    router.add(
        Subcommand(
            "killswitch",
            USAGE,
            "stop or allow remediation, all of it or one action (admins).",
            ("/incident killswitch on all deploy freeze until 18:00", "/incident killswitch off all"),
            on_killswitch,
        )
    )
    for prefix in (RUN, PREVIEW):
        pattern = re.compile(rf"^{re.escape(prefix)}\.[a-z0-9-]+$")
        app.action(pattern)(_on_runbook_button(deps, preview=prefix == PREVIEW))
    for action_id in (APPROVE, REJECT):
        app.action(action_id)(_on_vote(deps, approve=action_id == APPROVE))

    @app.view(FORM)
    async def on_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata, raw, only_preview = read_params_form(view)
        action = find_action(deps.catalog, metadata["playbook"], metadata["action"])
        try:
            params = validate_params(action, raw)
        except InvalidInput as exc:
            block = next(iter(action.params), "preview")
            await ack(response_action="errors", errors={f"param.{block}": exc.user_message[:150]})
            return
        await ack()
        user, channel = body["user"]["id"], metadata["channel_id"]

        async def job() -> None:
            if only_preview:
                await deps.slack.whisper(channel, user, preview_text(deps, action, params))
                return
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            await request(
                deps, int(metadata["incident_id"]), metadata["playbook"], metadata["action"], params, ctx
            )

        submit_for(deps, job, body, channel)


def _on_runbook_button(deps: Deps, *, preview: bool) -> Callable[..., Awaitable[None]]:
    async def on_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await ack()
        user, channel = body["user"]["id"], body["channel"]["id"]
        playbook_id, _, action_id = str(action["value"]).partition("/")

        async def job() -> None:
            playbook, step = deps.catalog.get(playbook_id), find_action(deps.catalog, playbook_id, action_id)
            incident = await run_in_session(find_incident, number=None, channel_id=channel)
            if step.params:
                assert playbook is not None and incident.id is not None
                form = params_form(
                    playbook, step, incident_id=incident.id, channel_id=channel, preview=preview
                )
                await deps.slack.open_form(body["trigger_id"], form)
            elif preview:
                await deps.slack.whisper(channel, user, preview_text(deps, step, {}))
            else:
                assert incident.id is not None
                ctx = await context_for(deps, user, body["team"]["id"], channel)
                await request(deps, incident.id, playbook_id, action_id, {}, ctx)

        submit_for(deps, job, body, channel, urgent=True)

    return on_button


def _on_vote(deps: Deps, *, approve: bool) -> Callable[..., Awaitable[None]]:
    async def on_vote(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body["channel"]["id"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            await cast_vote(deps, int(action["value"]), approve, ctx)

        submit_for(deps, job, body, channel)

    return on_vote


async def on_run_command(ctx: CommandContext) -> None:
    """`/incident run <action> [name=value…]`: checked at once, requested after the ack."""
    reference, _, rest = ctx.args.partition(" ")
    try:
        if not reference:
            raise InvalidInput(
                "Name the action: `/incident run <action> [name=value…]`; see `/incident runbooks`."
            )
        playbook_id, action_id = resolve_action(ctx.deps.catalog, reference)
        params = validate_params(
            find_action(ctx.deps.catalog, playbook_id, action_id), parse_assignments(rest)
        )
    except WarroomError as exc:
        await ctx.refuse(exc.user_message)
        return
    await ctx.ack()

    async def job() -> None:
        context = await ctx.asker()
        incident = await run_in_session(find_incident, number=ctx.number, channel_id=ctx.channel_id)
        assert incident.id is not None
        await request(ctx.deps, incident.id, playbook_id, action_id, params, context)

    ctx.in_background(job, "/incident run")


async def on_killswitch(ctx: CommandContext) -> None:
    """`/incident killswitch on|off [action|all] [reason…]` for admins; stored, audited, effective at once."""
    state, _, rest = ctx.args.strip().partition(" ")
    reference, _, reason = rest.strip().partition(" ")
    state = state.lower()
    if state not in ("on", "off"):
        await ctx.refuse(f"Use `/incident {USAGE}`, e.g. `/incident killswitch on all deploy freeze`.")
        return
    try:
        everything = reference.lower() in ("", "all")
        scope = "*" if everything else "/".join(resolve_action(ctx.deps.catalog, reference))
    except WarroomError as exc:
        hint = f"For all remediation: `/incident killswitch {state} all [reason…]`."
        await ctx.refuse(f"{exc.user_message} {hint}")
        return
    await ctx.ack()

    async def job() -> None:
        context = await ctx.asker()
        await run_in_session(set_kill_switch, scope, state == "on", context, reason)
        what = "all remediation" if scope == "*" else f"`{scope}`"
        verb = "stopped" if state == "on" else "allowed again"
        await ctx.tell(f"Kill switch {state}: {what} {verb}, effective for the next run.")

    ctx.in_background(job, "/incident killswitch")
