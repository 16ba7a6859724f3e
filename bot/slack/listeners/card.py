"""The incident card's buttons (and the update reminder's "Post update"): each opens a small
form showing the current value; saving it records the change command's durable job
(bot/slack/listeners/manage.py), which makes the change unless someone else was first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from sqlmodel import Session

from bot.deps import Deps
from bot.flows.changes import COMMAND
from bot.incidents.changes import Context, incident_for_action
from bot.incidents.errors import InvalidInput
from bot.incidents.permissions import Action
from bot.incidents.rules import clean_note, parse_severity, parse_status, parse_user
from bot.slack.effects import record_click
from bot.slack.forms import press_opens_form
from bot.slack.listeners.manage import NOTE as NOTE_JOB
from bot.views.controls import (
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

ACTIONS = {
    SEVERITY: Action.CHANGE,
    STATUS: Action.CHANGE,
    HANDOVER: Action.HAND_OVER,
    NOTE: Action.NOTE,
    UPDATE: Action.NOTE,
}


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
        parse, change = FORMS[action_id]
        value = submitted_value(view)
        text = f"<@{value}>" if action_id == HANDOVER else value
        try:
            parse(text)  # a mistake is answered in the form; the job parses it again
        except InvalidInput as exc:
            await ack(response_action="errors", errors={"value": exc.user_message[:150]})
            return
        await ack()
        payload = {"incident_id": incident_id, "number": None, "args": text}
        if change == "note":
            await record_click(deps, NOTE_JOB, body, channel, **payload)
        else:
            await record_click(deps, COMMAND, body, channel, change=change, expected=expected, **payload)

    return on_submit


# each form is the change command of the same name (bot/slack/listeners/manage.py), run as its job
FORMS: dict[str, tuple[Callable[[str], Any], str]] = {
    SEVERITY: (parse_severity, "sev"),
    STATUS: (parse_status, "status"),
    HANDOVER: (parse_user, "ic"),
    NOTE: (clean_note, "note"),
    UPDATE: (clean_note, "update"),
}
