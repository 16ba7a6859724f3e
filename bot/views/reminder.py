"""The reminder to post a status update."""

from __future__ import annotations

from bot.text import plural
from bot.views import Blocks
from bot.views.controls import CLOSE, UPDATE
from storage.models import Incident

SNOOZE = "reminder.snooze"


def reminder_message(incident: Incident, minutes: int) -> tuple[str, Blocks]:
    """Tell the IC an update is due, with buttons to post one or snooze."""
    text = (
        f"<@{incident.commander_id}> no status update on {incident.ref} for {plural(minutes, 'minute')}. "
        "Stakeholders are waiting: post one with `/incident update <text>` or the button."
    )
    buttons = [
        {
            "type": "button",
            "action_id": UPDATE,
            "style": "primary",
            "text": {"type": "plain_text", "text": "Post update"},
            "value": str(incident.id),
        },
        {
            "type": "button",
            "action_id": SNOOZE,
            "text": {"type": "plain_text", "text": "Snooze 15 min"},
            "value": str(incident.id),
        },
    ]
    blocks: Blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":alarm_clock: {text}"}},
        {"type": "actions", "block_id": "reminder.actions", "elements": buttons},
    ]
    return text, blocks


def close_nudge_message(incident: Incident) -> tuple[str, Blocks]:
    """Tell the IC a resolved incident still waits to be closed, with the Close button."""
    text = (
        f"<@{incident.commander_id}> {incident.ref} was resolved a day ago and is still not closed. "
        "Close it while memories are fresh: a short form records the impact and Warroom posts the "
        "postmortem draft."
    )
    button = {
        "type": "button",
        "action_id": CLOSE,
        "style": "primary",
        "text": {"type": "plain_text", "text": "Close incident"},
        "value": str(incident.id),
    }
    blocks: Blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":hourglass: {text}"}},
        {"type": "actions", "block_id": "reminder.close", "elements": [button]},
    ]
    return text, blocks
