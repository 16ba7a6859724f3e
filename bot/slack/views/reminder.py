"""The reminder to post a status update, and the form its "Post update" button opens."""

from __future__ import annotations

import json
from typing import Any

from bot.incidents.rules import NOTE_MAX
from bot.slack.views import Blocks
from storage.models import Incident

POST_UPDATE, SNOOZE, UPDATE_FORM = "reminder.update", "reminder.snooze", "reminder.update_form"


def reminder_message(incident: Incident, minutes: int) -> tuple[str, Blocks]:
    """Tell the IC an update is due, with buttons to post one or snooze."""
    text = (
        f"<@{incident.commander_id}> no status update on {incident.ref} for {minutes} minutes. "
        "Stakeholders are waiting: post one with `/incident update <text>` or the button."
    )
    buttons = [
        {
            "type": "button",
            "action_id": POST_UPDATE,
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


def update_form(incident: Incident) -> dict[str, Any]:
    """A form for a status update."""
    return {
        "type": "modal",
        "callback_id": UPDATE_FORM,
        "title": {"type": "plain_text", "text": "Post update"},
        "submit": {"type": "plain_text", "text": "Post"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"incident_id": incident.id, "channel_id": incident.channel_id}),
        "blocks": [
            {
                "type": "input",
                "block_id": "value",
                "label": {"type": "plain_text", "text": f"Update on {incident.ref}"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": NOTE_MAX,
                },
            }
        ],
    }
