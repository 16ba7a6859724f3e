"""A runbook as a war-room message, and the whole runbook in a modal."""

from __future__ import annotations

import re
from typing import Any

from bot.playbooks.matching import Fit
from bot.playbooks.models import Action, Playbook
from bot.text import escape_mrkdwn, plural
from bot.views import Blocks
from bot.views.remediation import action_buttons

READ = "runbook.read"
SECTION_MAX = 2900
MODAL_BLOCKS_MAX = 100


def _action_line(action: Action) -> str:
    approvals = action.required_approvals
    needs = plural(approvals, "approval") if approvals else "no approval"
    label, target = escape_mrkdwn(action.label), escape_mrkdwn(action.target)
    return f"• {label} — {action.risk.value} risk, {needs}, on {target}"


def runbook_message(fit: Fit) -> tuple[str, Blocks]:
    """The runbook offered in the room: why it fits, its actions, a button to read it all."""
    playbook = fit.playbook
    lines = [
        f":book: *Runbook: {escape_mrkdwn(playbook.meta.title)}*",
        f"Matched on {escape_mrkdwn(fit.why)}.",
    ]
    if playbook.meta.actions:
        lines.append("Remediations it describes:")
        lines.extend(_action_line(action) for action in playbook.meta.actions)
    button = {
        "type": "button",
        "action_id": READ,
        "value": playbook.id,
        "text": {"type": "plain_text", "text": "Read runbook"},
    }
    blocks: Blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:SECTION_MAX]}},
        {
            "type": "actions",
            "block_id": f"runbook.{playbook.id}",
            "elements": [button, *action_buttons(playbook)],
        },
    ]
    return f"Runbook: {escape_mrkdwn(playbook.meta.title)} ({escape_mrkdwn(fit.why)})", blocks


def _mrkdwn(markdown: str) -> str:
    """Markdown headings and bold in Slack's mrkdwn (user text escaped first)."""
    text = escape_mrkdwn(markdown)
    text = re.sub(r"^#{1,6}\s*(.+)$", r"*\1*", text, flags=re.MULTILINE)
    return re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)


def runbook_modal(playbook: Playbook) -> dict[str, Any]:
    """The whole runbook, split into sections within Slack's limits."""
    text = _mrkdwn(playbook.steps) or "_This runbook has no steps written yet._"
    chunks: list[str] = []
    for paragraph in text.split("\n\n"):
        if chunks and len(chunks[-1]) + len(paragraph) + 2 <= SECTION_MAX:
            chunks[-1] += "\n\n" + paragraph
        else:
            chunks.extend(paragraph[i : i + SECTION_MAX] for i in range(0, len(paragraph), SECTION_MAX))
    header = {"type": "header", "text": {"type": "plain_text", "text": playbook.meta.title[:150]}}
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in chunks if chunk]
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Runbook"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [header, *sections][:MODAL_BLOCKS_MAX],
    }
