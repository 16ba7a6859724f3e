"""Block Kit for triage from Slack: an alert notice's buttons, what a press adds to it, the
triage form, and the rules made from Slack as `/incident triage` lists them."""

from __future__ import annotations

import json
from typing import Any

from bot.alerts.overrides import MAX_DAYS
from bot.text import escape_mrkdwn
from bot.views.card import slack_date
from storage.models import Alert, TriageOverride

DECLARE, ACKNOWLEDGE, NOISE, DOWNGRADE, ROUTE = (
    "alert.declare",
    "alert.acknowledge",
    "alert.noise",
    "alert.downgrade",
    "alert.route",
)
FORM = "alert.triage_form"
ACTIONS_BLOCK = "alert.triage"
DAYS = (1, 3, 7, 14, 30, MAX_DAYS)
_FORMS = {NOISE: "noise", DOWNGRADE: "downgrade", ROUTE: "route"}
_TITLES = {"noise": "Mark as noise", "downgrade": "Downgrade to low", "route": "Route to a channel"}
_DONE = {"noise": "marked as noise", "downgrade": "downgraded to low", "route": "routed to"}


def notice_blocks(text: str, alert_id: int, *, low: bool, room: bool = False) -> list[dict[str, Any]]:
    """An alert notice: its text, then Declare (not in the alert's own war room), Acknowledge,
    Mark as noise…, Downgrade to low… (not on a low or info notice: low is already that quiet)
    and Route to…."""
    buttons = [
        *([] if room else [_button("Declare incident", DECLARE, alert_id, style="primary")]),
        _button("Acknowledge", ACKNOWLEDGE, alert_id),
        _button("Mark as noise…", NOISE, alert_id),
        *([] if low and not room else [_button("Downgrade to low…", DOWNGRADE, alert_id)]),
        _button("Route to…", ROUTE, alert_id),
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons},
    ]


def marked(blocks: list[dict[str, Any]], line: str, *, drop: tuple[str, ...]) -> list[dict[str, Any]]:
    """The notice's blocks with `line` added above its buttons (once) and the `drop` buttons gone."""
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": line[:3000]}]}
    kept: list[dict[str, Any]] = [block for block in blocks if block.get("block_id") != ACTIONS_BLOCK]
    if context not in kept:
        kept.append(context)
    actions = next((block for block in blocks if block.get("block_id") == ACTIONS_BLOCK), None)
    if actions is not None:
        buttons = [button for button in actions["elements"] if button.get("action_id") not in drop]
        if buttons:
            kept.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons})
    return kept


def triage_form(alert: Alert, button: str, *, channel: str, ts: str) -> dict[str, Any]:
    """The form behind Mark as noise…, Downgrade to low… and Route to…."""
    action = _FORMS[button]
    scopes = [_option("this alert", "key")]
    if alert.labels:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        scopes.append(_option(f"every alert labelled {labels}"[:75], "labels"))
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{escape_mrkdwn(alert.title[:2000])}*"},
        },
        {
            "type": "input",
            "block_id": "scope",
            "label": {"type": "plain_text", "text": "Which alerts"},
            "element": {
                "type": "radio_buttons",
                "action_id": "scope",
                "options": scopes,
                "initial_option": scopes[0],
            },
        },
        {
            "type": "input",
            "block_id": "days",
            "label": {"type": "plain_text", "text": "For how long"},
            "element": {
                "type": "static_select",
                "action_id": "days",
                "options": [_option(f"{d} day{'s' if d > 1 else ''}", str(d)) for d in DAYS],
                "initial_option": _option("7 days", "7"),
            },
        },
    ]
    if action == "route":
        blocks.append(
            {
                "type": "input",
                "block_id": "channel",
                "label": {"type": "plain_text", "text": "Post its notices in"},
                "element": {"type": "conversations_select", "action_id": "channel"},
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "reason", "max_length": 500},
        }
    )
    metadata = {"alert": alert.id, "action": action, "channel": channel, "ts": ts}
    return {
        "type": "modal",
        "callback_id": FORM,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": _TITLES[action]},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def read_triage_form(view: dict[str, Any]) -> dict[str, Any]:
    """What the form's author chose, with where the notice is."""
    values = view["state"]["values"]
    chosen = {
        "scope": values["scope"]["scope"]["selected_option"]["value"],
        "days": int(values["days"]["days"]["selected_option"]["value"]),
        "reason": values["reason"]["reason"].get("value") or "",
        "target": values.get("channel", {}).get("channel", {}).get("selected_conversation"),
    }
    metadata: dict[str, Any] = json.loads(view["private_metadata"])
    return metadata | chosen


def override_line(override: TriageOverride) -> str:
    """One rule made from Slack (mrkdwn): what, who, why, until when, how often it decided."""
    what = _DONE[override.action] + (f" <#{override.channel}>" if override.channel else "")
    return (
        f"#{override.id} {escape_mrkdwn(override.about)}: {what} by <@{override.created_by}> "
        f"until {slack_date(override.expires_at)} ({escape_mrkdwn(override.reason)}; "
        f"{override.applied} alerts decided since)"
    )


def triage_list(overrides: list[TriageOverride]) -> str:
    """`/incident triage`: the active rules made from Slack."""
    if not overrides:
        return (
            "No triage rules made from Slack are active. The buttons on an alert notice make them "
            "(*Mark as noise…*, *Downgrade to low…*, *Route to…*); the YAML rules apply as configured."
        )
    lines = [override_line(override) for override in overrides]
    return (
        "Triage rules made from Slack (newest first; `/incident triage revert <n>` ends one):\n"
        + "\n".join(f"• {line}" for line in lines)
    )


def _button(text: str, action_id: str, alert_id: int, *, style: str | None = None) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": str(alert_id),
    }
    return button | ({"style": style} if style else {})


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}
