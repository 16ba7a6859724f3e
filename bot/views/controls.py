"""The card's buttons and the small forms they open, each showing the current value."""

from __future__ import annotations

import json
from typing import Any

from bot.incidents.rules import NOTE_MAX, OPEN_STATUSES, Severity, Status
from bot.views import Blocks
from storage.models import Incident

SEVERITY, STATUS, HANDOVER, NOTE = "card.severity", "card.status", "card.handover", "card.note"
UPDATE = "card.update"  # offered by the update reminder, not on the card
CLOSE = "card.close"  # shown once the incident is resolved; opens the close form
_BUTTONS = (
    (SEVERITY, "Change severity"),
    (STATUS, "Change status"),
    (HANDOVER, "Hand over IC"),
    (NOTE, "Add note"),
)
_TITLES = {
    SEVERITY: "Change severity",
    STATUS: "Change status",
    HANDOVER: "Hand over IC",
    NOTE: "Add note",
    UPDATE: "Post update",
}


def card_buttons(incident: Incident) -> Blocks:
    """The actions block under the card (none once the incident is closed)."""
    if incident.status == Status.CLOSED:
        return []
    buttons = [
        {"type": "button", "action_id": action, "text": _plain(label), "value": str(incident.id)}
        for action, label in _BUTTONS
    ]
    if incident.status == Status.RESOLVED:
        close = {"type": "button", "action_id": CLOSE, "text": _plain("Close incident"), "style": "primary"}
        buttons.append({**close, "value": str(incident.id)})
    return [{"type": "actions", "block_id": "card.actions", "elements": buttons}]


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def _element(action: str, incident: Incident) -> dict[str, Any]:
    if action == SEVERITY:
        options = [_option(s.label.lower(), s.label) for s in Severity]
        current = Severity(incident.severity)
        return {
            "type": "static_select",
            "options": options,
            "initial_option": _option(current.label.lower(), current.label),
        }
    if action == STATUS:
        options = [_option(s.value, s.label) for s in (*OPEN_STATUSES, Status.RESOLVED)]
        status = Status(incident.status)
        return {
            "type": "static_select",
            "options": options,
            "initial_option": _option(status.value, status.label),
        }
    if action == HANDOVER:
        return {"type": "users_select", "initial_user": incident.commander_id}
    return {"type": "plain_text_input", "multiline": True, "max_length": NOTE_MAX}


def _current(action: str, incident: Incident) -> str:
    return {SEVERITY: str(incident.severity), STATUS: incident.status, HANDOVER: incident.commander_id}.get(
        action, ""
    )


def control_modal(action: str, incident: Incident) -> dict[str, Any]:
    """The form a card button opens, with the incident and the value it showed in metadata."""
    element = {**_element(action, incident), "action_id": "value"}
    metadata = {
        "incident_id": incident.id,
        "expected": _current(action, incident),
        "channel_id": incident.channel_id,
    }
    return {
        "type": "modal",
        "callback_id": action,
        "title": _plain(_TITLES[action]),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {"type": "input", "block_id": "value", "label": _plain(f"{incident.ref}"), "element": element}
        ],
    }


def submitted_value(view: dict[str, Any]) -> str:
    """What the person chose or typed in a control form."""
    state = view.get("state", {}).get("values", {}).get("value", {}).get("value", {})
    chosen = state.get("selected_option") or {}
    return str(chosen.get("value") or state.get("selected_user") or state.get("value") or "")


def control_metadata(view: dict[str, Any]) -> tuple[int, str, str]:
    """The incident id, the value the form showed, and the war-room channel."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
        return int(metadata["incident_id"]), str(metadata.get("expected") or ""), str(metadata["channel_id"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a Warroom control form") from None
