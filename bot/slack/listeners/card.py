"""The incident card's buttons (and the update reminder's "Post update"): each opens a small
form showing the current value; saving it makes the change, unless someone else was first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from sqlmodel import Session

from bot.deps import Deps
from bot.incidents.changes import Context, change_severity, change_status, incident_for_action
from bot.incidents.errors import InvalidInput
from bot.incidents.notes import add_note, post_update
from bot.incidents.permissions import Action
from bot.incidents.roles import assign_role
from bot.incidents.rules import Role, Severity, Status, clean_note, parse_severity, parse_status, parse_user
from bot.slack.effects import apply_outcome, context_for, require_person, submit_for
from bot.slack.forms import press_opens_form
from bot.slack.views.controls import (
    HANDOVER,
    NOTE,
    SEVERITY,
    STATUS,
    UPDATE,
    control_metadata,
    control_modal,
    submitted_value,
)
from storage.models import Incident
from storage.session import run_in_session

ACTIONS = {
    SEVERITY: Action.CHANGE,
    STATUS: Action.CHANGE,
    HANDOVER: Action.HAND_OVER,
    NOTE: Action.NOTE,
    UPDATE: Action.NOTE,
}
Apply = Callable[[Deps, int, Any, str, Context], Awaitable[None]]


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for each button and for the form it opens."""
    for action_id in ACTIONS:
        app.action(action_id)(press_opens_form(deps, _loader(action_id), _form(action_id)))
        app.view(action_id)(_on_submit(deps, action_id))


def _loader(action_id: str) -> Callable[[Session, int, Context], Incident]:
    def load(session: Session, incident_id: int, ctx: Context) -> Incident:
        return incident_for_action(session, incident_id, ACTIONS[action_id], ctx)

    return load


def _form(action_id: str) -> Callable[[Incident, str], dict[str, Any]]:
    return lambda incident, _channel: control_modal(action_id, incident)


def _on_submit(deps: Deps, action_id: str) -> Callable[..., Awaitable[None]]:
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id, expected, channel = control_metadata(view)
        parse, apply = FORMS[action_id]
        try:
            value = parse(submitted_value(view))
        except InvalidInput as exc:
            await ack(response_action="errors", errors={"value": exc.user_message[:150]})
            return
        await ack()
        user = body["user"]["id"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            await apply(deps, incident_id, value, expected, ctx)

        submit_for(deps, job, body, channel)

    return on_submit


async def _severity(deps: Deps, incident_id: int, to: Severity, expected: str, ctx: Context) -> None:
    outcome = await run_in_session(change_severity, incident_id, to, ctx, Severity(int(expected)))
    await apply_outcome(deps, outcome)


async def _status(deps: Deps, incident_id: int, to: Status, expected: str, ctx: Context) -> None:
    outcome = await run_in_session(change_status, incident_id, to, ctx, "", Status(expected))
    await apply_outcome(deps, outcome)


async def _handover(deps: Deps, incident_id: int, to: str, expected: str, ctx: Context) -> None:
    await require_person(deps, to)
    outcome = await run_in_session(assign_role, incident_id, Role.COMMANDER, to, ctx, expected)
    await apply_outcome(deps, outcome)


async def _note(deps: Deps, incident_id: int, text: str, _: str, ctx: Context) -> None:
    await run_in_session(add_note, incident_id, text, ctx)
    assert ctx.channel_id is not None
    await deps.slack.whisper(ctx.channel_id, ctx.actor.user_id, "Added to the timeline.")


async def _update(deps: Deps, incident_id: int, text: str, _: str, ctx: Context) -> None:
    await apply_outcome(deps, await run_in_session(post_update, incident_id, text, ctx))


FORMS: dict[str, tuple[Callable[[str], Any], Apply]] = {
    SEVERITY: (parse_severity, _severity),
    STATUS: (parse_status, _status),
    HANDOVER: (lambda value: parse_user(f"<@{value}>"), _handover),
    NOTE: (clean_note, _note),
    UPDATE: (clean_note, _update),
}
