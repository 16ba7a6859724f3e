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
from bot.flows.remediation import KILL_SWITCH, PREVIEW, REQUEST, VOTE
from bot.incidents.changes import find_incident
from bot.incidents.errors import InvalidInput
from bot.remediation.params import parse_assignments, validate_params
from bot.remediation.runs import find_action, resolve_action
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.effects import record_click, submit_for
from bot.views.remediation import APPROVE, FORM, REJECT, RUN, params_form, read_params_form
from bot.views.remediation import PREVIEW as PREVIEW_BUTTON
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
    for prefix in (RUN, PREVIEW_BUTTON):
        pattern = re.compile(rf"^{re.escape(prefix)}\.[a-z0-9-]+$")
        app.action(pattern)(_on_runbook_button(deps, preview=prefix == PREVIEW_BUTTON))
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
        what = {"playbook": metadata["playbook"], "action": metadata["action"], "params": params}
        kind = PREVIEW if only_preview else REQUEST
        await record_click(
            deps, kind, body, metadata["channel_id"], incident=int(metadata["incident_id"]), **what
        )
        await ack()


def _on_runbook_button(deps: Deps, *, preview: bool) -> Callable[..., Awaitable[None]]:
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        channel = body["channel"]["id"]
        playbook_id, _, action_id = str(action["value"]).partition("/")
        playbook = deps.catalog.get(playbook_id)
        step = next((a for a in playbook.meta.actions if a.id == action_id), None) if playbook else None
        if step is None or not step.params:  # an unknown action is refused by the job
            what: dict[str, Any] = {
                "playbook": playbook_id,
                "action": action_id,
                "params": {},
                "incident": None,
            }
            await record_click(deps, PREVIEW if preview else REQUEST, body, channel, number=None, **what)
            await ack()
            return
        await ack()

        async def open_form() -> None:  # a form: at once, while the trigger lives
            assert playbook is not None and step is not None
            incident = await run_in_session(find_incident, number=None, channel_id=channel)
            assert incident.id is not None
            form = params_form(playbook, step, incident_id=incident.id, channel_id=channel, preview=preview)
            await deps.slack.open_form(body["trigger_id"], form)

        submit_for(deps, open_form, body, channel, urgent=True)

    return on_button


def _on_vote(deps: Deps, *, approve: bool) -> Callable[..., Awaitable[None]]:
    async def on_vote(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await record_click(deps, VOTE, body, body["channel"]["id"], run=int(action["value"]), approve=approve)
        await ack()

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
    await ctx.record(REQUEST, playbook=playbook_id, action=action_id, params=params, incident=None)
    await ctx.ack()


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
    await ctx.record(KILL_SWITCH, scope=scope, engaged=state == "on", reason=reason)
    await ctx.ack()
