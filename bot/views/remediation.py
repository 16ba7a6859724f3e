"""Remediation in Slack: run and preview buttons, the parameter form, the request with its
votes, the announcement before a run and the report after it."""

from __future__ import annotations

import json
from typing import Any

from bot.playbooks.models import Action, Playbook
from bot.remediation.runs import describe
from bot.text import escape_mrkdwn, plural
from bot.views import Blocks
from storage.models import RemediationRun

RUN, PREVIEW, APPROVE, REJECT, FORM = (
    "remediation.run",
    "remediation.preview",
    "remediation.approve",
    "remediation.reject",
    "remediation.form",
)
EXCERPT_MAX = 1500
_SETTLED = {
    "approved": "Approved",
    "rejected": "Rejected",
    "expired": "Expired",
    "cancelled": "Voided",
    "blocked": "Blocked",
    "announced": "Approved",
    "running": "Running",
    "succeeded": "Done",
    "failed": "Failed",
    "timed_out": "Timed out",
    "unknown": "Result unknown",
}


def _button(action_id: str, text: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text[:75]},
    }
    if style:
        button["style"] = style
    return button


def action_buttons(playbook: Playbook) -> list[dict[str, Any]]:
    """Run and Preview for each action of a runbook."""
    buttons = []
    for action in playbook.meta.actions:
        reference = f"{playbook.id}/{action.id}"
        # action ids must be unique within a message: one pair of buttons per action
        buttons.append(_button(f"{RUN}.{action.id}", f"Run: {action.label}"[:75], reference, "primary"))
        buttons.append(_button(f"{PREVIEW}.{action.id}", "Preview", reference))
    return buttons


def params_form(
    playbook: Playbook, action: Action, *, incident_id: int, channel_id: str, preview: bool
) -> dict[str, Any]:
    """The parameters an action needs, with "Preview only" ticked for a preview."""
    blocks: Blocks = []
    for name, spec in action.params.items():
        element = {"type": "plain_text_input", "action_id": f"param.{name}", "max_length": spec.max_length}
        label = {"type": "plain_text", "text": f"{name}{'' if spec.required else ' (optional)'}"}
        hint = spec.description or (f"one of {', '.join(spec.enum)}" if spec.enum else spec.type)
        blocks.append(
            {
                "type": "input",
                "block_id": f"param.{name}",
                "label": label,
                "element": element,
                "optional": not spec.required,
                "hint": {"type": "plain_text", "text": hint[:150]},
            }
        )
    option = {
        "text": {"type": "plain_text", "text": "Preview only: show the request, send nothing"},
        "value": "preview",
    }
    checkbox: dict[str, Any] = {"type": "checkboxes", "action_id": "preview", "options": [option]}
    if preview:
        checkbox["initial_options"] = [option]
    blocks.append(
        {
            "type": "input",
            "block_id": "preview",
            "optional": True,
            "element": checkbox,
            "label": {"type": "plain_text", "text": "Mode"},
        }
    )
    metadata = {
        "incident_id": incident_id,
        "channel_id": channel_id,
        "playbook": playbook.id,
        "action": action.id,
    }
    return {
        "type": "modal",
        "callback_id": FORM,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "Run remediation"},
        "submit": {"type": "plain_text", "text": "Continue"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape_mrkdwn(action.label)}*"}},
            *blocks,
        ],
    }


def read_params_form(view: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], bool]:
    """The form's metadata, the typed-in parameters and whether only a preview is wanted."""
    metadata = json.loads(view.get("private_metadata") or "{}")
    values = view.get("state", {}).get("values", {})
    params = {
        block.removeprefix("param."): str(fields.get(block, {}).get("value") or "")
        for block, fields in values.items()
        if block.startswith("param.")
    }
    chosen = values.get("preview", {}).get("preview", {}).get("selected_options") or []
    return metadata, params, any(option.get("value") == "preview" for option in chosen)


def _params(run: RemediationRun) -> str:
    if not run.params:
        return "no parameters"
    return ", ".join(f"`{escape_mrkdwn(str(k))}` = `{escape_mrkdwn(str(v))}`" for k, v in run.params.items())


def request_message(run: RemediationRun, action: Action, approved_by: list[str]) -> tuple[str, Blocks]:
    """The request, updated in place as votes arrive; buttons only while votes are open."""
    lines = [
        f":raising_hand: <@{run.requested_by}> asks to run *{escape_mrkdwn(run.label)}* on "
        f"*{escape_mrkdwn(run.target)}* ({_params(run)}).",
        f"Risk {run.risk}: needs {plural(run.required_approvals, 'approval')} from "
        f"{describe(action.approvers)}, not the requester. Expires {run.expires_at:%H:%M} UTC.",
    ]
    if run.dry_run:
        lines.append("*Dry run: approving it sends nothing; Warroom shows what it would have sent.*")
    if approved_by:
        lines.append("Approved by " + ", ".join(f"<@{voter}>" for voter in approved_by) + ".")
    blocks: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    if run.state == "requested":
        value = str(run.id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"run.{run.id}",
                "elements": [
                    _button(APPROVE, "Approve", value, "primary"),
                    _button(REJECT, "Reject", value, "danger"),
                ],
            }
        )
    else:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{_SETTLED[run.state]}*"}]}
        )
    return f"{run.label}: {_SETTLED.get(run.state, 'Waiting for approval')}", blocks


def announcement(run: RemediationRun, approved_by: list[str]) -> str:
    """Said in the room before anything is sent."""
    approvers = (
        "approved by " + ", ".join(f"<@{voter}>" for voter in approved_by)
        if approved_by
        else ("no approval needed")
    )
    how = "automatically" if run.automatic else f"requested by <@{run.requested_by}>"
    dry = " *Dry run: nothing will be sent.*" if run.dry_run else ""
    return (
        f":arrow_forward: Running *{escape_mrkdwn(run.label)}* on *{escape_mrkdwn(run.target)}* "
        f"({_params(run)}), {how}, {approvers}.{dry}"
    )


def report(run: RemediationRun, duration_ms: int) -> str:
    """Said in the room after the run: outcome, duration, a capped excerpt, what to do by hand."""
    icon = {"succeeded": ":white_check_mark:", "failed": ":x:", "timed_out": ":hourglass:"}.get(
        run.state, ":grey_question:"
    )
    label, outcome, detail = escape_mrkdwn(run.label), run.state.replace("_", " "), escape_mrkdwn(run.outcome)
    text = f"{icon} *{label}* {outcome} in {duration_ms / 1000:.1f} s: {detail}"
    if run.excerpt:
        text += "\n```" + escape_mrkdwn(run.excerpt[:EXCERPT_MAX]).replace("```", "ˋˋˋ") + "```"
    if run.state != "succeeded":
        text += (
            "\nDo it by hand: open the runbook (*Read runbook*) and follow its steps; check the target first."
        )
    return text


def blocked(run: RemediationRun, reason: str) -> str:
    """Said when a pre-check stops a run."""
    return f":no_entry: *{escape_mrkdwn(run.label)}* did not run: {reason}."


_OVERDUE = {
    "requested": ":hourglass: The request for *{label}* expired after {minutes} without approval; "
    "ask again if it is still needed.",
    "approved": ":hourglass: *{label}* was approved but did not start within {minutes}; nothing was sent. "
    "Ask again if it is still needed.",
    "announced": ":hourglass: *{label}* was announced but did not start within {minutes}; nothing was "
    "sent. Ask again if it is still needed.",
    "running": ":grey_question: *{label}* did not report back within {minutes}; its outcome is unknown. "
    "Check the target by hand before running it again.",
}


def overdue(run: RemediationRun, state: str, minutes: int) -> str:
    """Said when a run stayed in `state` past its deadline and Warroom ended it."""
    return _OVERDUE[state].format(label=escape_mrkdwn(run.label), minutes=f"{minutes} min")


def resent(run: RemediationRun) -> str:
    """Said when a run whose sending was interrupted is sent again (it is idempotent)."""
    return (
        f":repeat: Warroom stopped while *{escape_mrkdwn(run.label)}* was being sent; it is idempotent, "
        "so it is being sent again with the same Idempotency-Key."
    )
