"""Follow-ups as Block Kit: the war-room line, the list, the reminder and the form."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from bot.incidents.errors import InvalidInput
from bot.incidents.followups import FOLLOWUP_MAX, FollowUpDraft, clean_followup_text, parse_due
from bot.text import escape_mrkdwn
from bot.tickets.service import JIRA, ticket_name
from bot.views import Blocks
from bot.views.card import slack_date
from storage.models import FollowUp, Incident, Ticket

DONE = "followup.done"
TICKET = "followup.ticket"
DONE_PATTERN = re.compile(r"^followup\.done(\.\d+)?$")  # also the list's numbered buttons
FORM = "followup.add"
SHOWN_MAX = 2000  # Slack's section text is 3000; escaping may lengthen the 1000 typed
MESSAGE_BLOCKS_MAX = 50


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """User text escaped for mrkdwn, cut to `limit` without splitting an entity."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _section(text: str, button: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if button is not None:
        block["accessory"] = button
    return block


def done_button(followup: FollowUp, *, in_list: bool = False) -> dict[str, Any]:
    """The "Mark done" button; its value is the follow-up's id.

    Slack wants action ids unique within a message, so the list numbers its buttons.
    """
    return {
        "type": "button",
        "action_id": f"{DONE}.{followup.id}" if in_list else DONE,
        "text": {"type": "plain_text", "text": "Mark done"},
        "value": str(followup.id),
    }


def _details(followup: FollowUp, today: date | None = None) -> str:
    owner = f"Owner <@{followup.owner_id}>" if followup.owner_id else "Unassigned"
    due = f"due {followup.due_on:%Y-%m-%d}" if followup.due_on else "no due date"
    if today is not None and followup.due_on is not None:
        if followup.due_on < today:
            due += " · :warning: *overdue*"
        elif followup.due_on == today:
            due += " (today)"
    return f"{owner} · {due}"


def followup_line(
    followup: FollowUp, incident: Incident, *, tracker: str | None = None
) -> tuple[str, Blocks]:
    """The war-room line for a new follow-up, with its Mark done button, and one to file it as
    an issue in `tracker` when one is set up (never for a drill)."""
    head = f"<@{followup.created_by}> added a follow-up to {incident.ref}"
    body = f"{shown(followup.text)}\n{_details(followup)}"
    blocks = [_section(f":memo: {head}:\n{body}", done_button(followup))]
    if tracker and incident.drill_of is None:
        button = {
            "type": "button",
            "action_id": TICKET,
            "text": {"type": "plain_text", "text": f"File a {tracker} issue"},
            "value": str(followup.id),
        }
        blocks.append({"type": "actions", "block_id": "ticket", "elements": [button]})
    return f"{head}: {body}", blocks


def ticket_line(followup: FollowUp, ticket: Ticket) -> tuple[str, Blocks]:
    """The war-room line once a follow-up's issue is filed."""
    issue = f"<{ticket.url}|{ticket_name(ticket)}>"
    text = f":ticket: Follow-up filed as {issue}: {shown(followup.text, 1500)}"
    return text, [_section(text)]


def ticket_state_line(followup: FollowUp, ticket: Ticket, *, login: str) -> tuple[str, Blocks]:
    """The war-room line when the tracker closed or reopened a follow-up's issue."""
    issue, tracker = f"<{ticket.url}|{ticket_name(ticket)}>", "Jira" if ticket.tracker == JIRA else "GitHub"
    if followup.done_at is not None:
        text = f":white_check_mark: Follow-up done: {issue} was closed by {escape_mrkdwn(login)} in {tracker}"
    else:
        text = (
            f":arrows_counterclockwise: Follow-up open again: {issue} was reopened by {escape_mrkdwn(login)}"
        )
    text += f"\n{shown(followup.text, 1500)}"
    return text, [_section(text)]


def done_line(followup: FollowUp, limit: int = SHOWN_MAX) -> tuple[str, Blocks]:
    """What a follow-up's message becomes once it is done (also its entry in the list)."""
    assert followup.done_at is not None
    when = slack_date(followup.done_at)
    by = f"<@{followup.done_by}>" if followup.done_by else "its tracker"
    text = f":white_check_mark: {shown(followup.text, limit)}\nDone by {by} {when}"
    return text, [_section(text)]


def followup_list(incident: Incident, followups: list[FollowUp], today: date) -> tuple[str, Blocks]:
    """Every follow-up, open ones with their buttons, within Slack's 50 blocks a message."""
    open_ = [f for f in followups if f.done_at is None]
    summary = f"Follow-ups of {incident.ref}: {len(open_)} open, {len(followups) - len(open_)} done"
    if not followups:
        text = f"{incident.ref} has no follow-ups yet. Add one with `/incident followup [@owner] <text>`."
        return text, [_section(text)]
    blocks: Blocks = [_section(f"*{summary}*")]
    room = MESSAGE_BLOCKS_MAX - len(blocks)
    shown_items = followups if len(followups) <= room else followups[: room - 1]
    for followup in shown_items:
        if followup.done_at is None:
            text = f"{shown(followup.text, 1500)}\n{_details(followup, today)}"
            blocks.append(_section(text, done_button(followup, in_list=True)))
        else:
            blocks.extend(done_line(followup, 1500)[1])
    left = followups[len(shown_items) :]
    if left:
        still_open = sum(1 for f in left if f.done_at is None)
        more = f"… and {len(left)} more ({still_open} open)"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return summary, blocks


def followup_reminder(followup: FollowUp, incident: Incident, *, owned: bool) -> tuple[str, Blocks]:
    """The direct message to the owner (or, when unowned, the incident commander) once it is due."""
    assert followup.due_on is not None
    where = f" (<#{incident.channel_id}>)" if incident.channel_id else ""
    if owned:
        text = f"Your follow-up from {incident.ref}{where} is due {followup.due_on:%Y-%m-%d}"
    else:
        text = (
            f"An unassigned follow-up from {incident.ref}{where} is due {followup.due_on:%Y-%m-%d}; "
            "as its incident commander, find it an owner or mark it done"
        )
    text += f":\n{shown(followup.text)}"
    return text, [_section(f":alarm_clock: {text}", done_button(followup))]


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def followup_form(incident: Incident, channel_id: str, *, tracker: str | None = None) -> dict[str, Any]:
    """The form `/incident followup` opens without text; it remembers the incident and the
    channel, and offers to file the follow-up in `tracker` when one is set up."""
    text_input = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": FOLLOWUP_MAX,
    }
    return {
        "type": "modal",
        "callback_id": FORM,
        "title": _plain("Add follow-up"),
        "submit": _plain("Add"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"incident_id": incident.id, "channel_id": channel_id}),
        "blocks": [
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{incident.ref} · {shown(incident.title, 200)}"}],
            },
            {
                "type": "input",
                "block_id": "text",
                "label": _plain("What should be done"),
                "element": text_input,
            },
            {
                "type": "input",
                "block_id": "owner",
                "optional": True,
                "label": _plain("Owner"),
                "element": {"type": "users_select", "action_id": "owner"},
            },
            {
                "type": "input",
                "block_id": "due",
                "optional": True,
                "label": _plain("Due"),
                "element": {"type": "datepicker", "action_id": "due"},
            },
            *([_ticket_box(tracker)] if tracker and incident.drill_of is None else []),
        ],
    }


def _ticket_box(tracker: str) -> dict[str, Any]:
    option = {"text": _plain(f"File it as a {tracker} issue too"), "value": "ticket"}
    return {
        "type": "input",
        "block_id": "ticket",
        "optional": True,
        "label": _plain("Ticket"),
        "element": {"type": "checkboxes", "action_id": "ticket", "options": [option]},
    }


def wants_ticket(view: dict[str, Any]) -> bool:
    """Whether the submitted form's "file it as an issue" box is ticked."""
    box = view.get("state", {}).get("values", {}).get("ticket", {}).get("ticket", {})
    return any(option.get("value") == "ticket" for option in box.get("selected_options") or [])


def read_followup_form(view: dict[str, Any], today: date) -> tuple[FollowUpDraft | None, dict[str, str]]:
    """The draft in a submitted form, or field errors keyed by block id."""
    values = view.get("state", {}).get("values", {})

    def field(block: str) -> dict[str, Any]:
        return dict(values.get(block, {}).get(block, {}))

    errors: dict[str, str] = {}
    text = ""
    due = None
    try:
        text = clean_followup_text(field("text").get("value") or "")
    except InvalidInput as exc:
        errors["text"] = exc.user_message[:150]
    chosen = field("due").get("selected_date")
    if chosen:
        try:
            due = parse_due(str(chosen), today)
        except InvalidInput as exc:
            errors["due"] = exc.user_message[:150]
    if errors:
        return None, errors
    owner = field("owner").get("selected_user") or None
    return FollowUpDraft(text, str(owner) if owner else None, due), {}


def form_metadata(view: dict[str, Any]) -> tuple[int, str]:
    """The incident id and the channel the form was opened from."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
        return int(metadata["incident_id"]), str(metadata["channel_id"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a Warroom follow-up form") from None
