"""The close form (what only people know) and the message that carries the postmortem draft."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bot.postmortem.closing import (
    DETECTION_MAX,
    IMPACT_MAX,
    LOST_BUSINESS_MAX,
    MINUTES_MAX,
    ROOT_CAUSE_MAX,
    USERS_MAX,
    Closing,
    FixKind,
    Review,
)
from bot.text import escape_mrkdwn
from bot.views import Blocks

CALLBACK_ID = "incident.close"
QUESTIONS_SHOWN = 8


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _text_input(block: str, label: str, limit: int, *, hint: str, multiline: bool = True) -> dict[str, Any]:
    element = {"type": "plain_text_input", "action_id": block, "multiline": multiline, "max_length": limit}
    return {
        "type": "input",
        "block_id": block,
        "label": _plain(label),
        "hint": _plain(hint),
        "element": element,
    }


def _number_input(block: str, label: str, limit: int) -> dict[str, Any]:
    element = {
        "type": "number_input",
        "action_id": block,
        "is_decimal_allowed": False,
        "min_value": "0",
        "max_value": str(limit),
    }
    return {"type": "input", "block_id": block, "optional": True, "label": _plain(label), "element": element}


def close_modal(closing: Closing, channel_id: str | None) -> dict[str, Any]:
    """The form `/incident close` and the card's Close button open (with the answers of an
    earlier close, when it is closed again after a reopen)."""
    incident = closing.incident
    fix_options = [{"text": _plain(kind.label), "value": kind.value} for kind in FixKind]
    lost = _text_input(
        "lost_business",
        "Lost orders or revenue",
        LOST_BUSINESS_MAX,
        hint="If known, e.g. “about 1,200 orders”.",
        multiline=False,
    )
    blocks: Blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{incident.ref}* · {escape_mrkdwn(incident.title)}\nWarroom writes the postmortem "
                "draft from what it recorded. Add what only people know.",
            },
        },
        _text_input(
            "customer_impact", "Customer impact", IMPACT_MAX, hint="What did customers see, and where?"
        ),
        _text_input(
            "detection", "How was it detected?", DETECTION_MAX, hint="An alert, a customer, a colleague…"
        ),
        _number_input("users_affected", "Users affected (estimate)", USERS_MAX),
        _number_input("impact_minutes", "Minutes of customer impact", MINUTES_MAX),
        {**lost, "optional": True},
        _text_input(
            "root_cause", "Root cause hypothesis", ROOT_CAUSE_MAX, hint="Your best guess; the review decides."
        ),
        {
            "type": "input",
            "block_id": "fix_kind",
            "label": _plain("Is the fix permanent?"),
            "element": {"type": "radio_buttons", "action_id": "fix_kind", "options": fix_options},
        },
    ]
    if closing.previous is not None:
        _prefill(blocks, closing.previous)
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain(f"Close {incident.ref}"[:24]),
        "submit": _plain("Close incident"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"incident_id": incident.id, "channel_id": channel_id}),
        "blocks": blocks,
    }


def _prefill(blocks: Blocks, previous: Review) -> None:
    """Start each field from an earlier close's answer."""
    answers = dataclasses.asdict(previous)
    for block in blocks:
        value = answers.get(block.get("block_id", ""))
        if value is None or value == "":
            continue
        element = block["element"]
        if isinstance(value, FixKind):
            element["initial_option"] = {"text": _plain(value.label), "value": value.value}
        else:
            element["initial_value"] = str(value)


def read_close_form(view: dict[str, Any]) -> tuple[int, str | None, dict[str, str]]:
    """The incident id, the channel the form was opened from, and the answers by field."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
        incident_id, channel = int(metadata["incident_id"]), metadata.get("channel_id")
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a Warroom close form") from None
    answers = {}
    for block, actions in (view.get("state", {}).get("values") or {}).items():
        state = actions.get(block) or {}
        chosen = state.get("selected_option") or {}
        answers[block] = str(chosen.get("value") or state.get("value") or "")
    return incident_id, channel if isinstance(channel, str) else None, answers


def draft_message(ref: str, headline: str, questions: list[str]) -> tuple[str, Blocks]:
    """The war-room message the draft's files are threaded under."""
    lines = [f":page_facing_up: *Postmortem draft for {ref}*", escape_mrkdwn(headline)]
    if questions:
        lines.append("*Questions for the review*")
        lines.extend(f"• {escape_mrkdwn(question)}" for question in questions[:QUESTIONS_SHOWN])
        if len(questions) > QUESTIONS_SHOWN:
            lines.append(f"… and {len(questions) - QUESTIONS_SHOWN} more in the draft.")
    lines.append("Built only from what Warroom recorded. The Markdown and JSON are in the thread.")
    text = "\n".join(lines)[:2900]
    return f"Postmortem draft for {ref}", [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
