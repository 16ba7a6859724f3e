"""The open-incident list and the timeline, as ephemeral Block Kit messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.incidents.rules import Severity, Status, escape_mrkdwn
from bot.slack.views.card import Blocks
from storage.models import Incident, TimelineEvent

SECTION_TEXT_MAX = 3000
SECTIONS_PER_MESSAGE = 45
LIST_MAX = 40
_KIND_LABELS = {
    "declared": "Declared",
    "channel_created": "War room opened",
    "announced": "Announced",
    "severity_changed": "Severity",
    "status_changed": "Status",
    "role_assigned": "Role",
    "note": "Note",
    "update": "Update",
    "closed": "Closed",
    "reopened": "Reopened",
}


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since) / timedelta(minutes=1))
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def incident_list(incidents: list[Incident], *, now: datetime, hidden: int) -> tuple[str, Blocks]:
    """Open incidents, worst first: severity, status, IC, age, channel."""
    if not incidents:
        text = "No open incidents." + (f" ({hidden} private not shown.)" if hidden else "")
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    blocks: Blocks = []
    for incident in incidents[:LIST_MAX]:
        line = (
            f"*{incident.ref}* · {Severity(incident.severity).label} · {Status(incident.status).label} · "
            f"IC <@{incident.commander_id}> · {_age(incident.declared_at, now)}"
        )
        where = f" · <#{incident.channel_id}>" if incident.channel_id else ""
        title = escape_mrkdwn(incident.title) + (" :lock:" if incident.private else "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"{line}{where}\n{title}"}})
    notes = []
    if len(incidents) > LIST_MAX:
        notes.append(f"and {len(incidents) - LIST_MAX} more")
    if hidden:
        notes.append(f"{hidden} private incident(s) you are not part of are not shown")
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "; ".join(notes)}]})
    return f"{len(incidents)} open incident(s)", blocks


def _zone(tz_name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _event_line(event: TimelineEvent, zone: ZoneInfo | None) -> str:
    at = event.at.strftime("%Y-%m-%d %H:%M UTC")
    if zone is not None and zone.key != "UTC":
        at += " · " + event.at.astimezone(zone).strftime("%H:%M %Z")
    who = f" <@{event.actor_id}>" if event.actor_id else ""
    label = _KIND_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    text = escape_mrkdwn(event.text)
    if event.data.get("permalink"):
        text = f"<{event.data['permalink']}|message> from <@{event.data['author']}>: {text}"
    return f"`{at}` *{label}*{who}: {text}"[:SECTION_TEXT_MAX]


def timeline_messages(incident: Incident, events: list[TimelineEvent], tz_name: str | None) -> list[Blocks]:
    """The timeline, oldest first, split into messages that respect Slack's block limits."""
    zone = _zone(tz_name)
    sections: list[str] = [f"*Timeline of {incident.ref}* · {escape_mrkdwn(incident.title)}"]
    for event in events:
        line = _event_line(event, zone)
        if len(sections[-1]) + len(line) + 1 > SECTION_TEXT_MAX:
            sections.append(line)
        else:
            sections[-1] += "\n" + line
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections]
    return [blocks[i : i + SECTIONS_PER_MESSAGE] for i in range(0, len(blocks), SECTIONS_PER_MESSAGE)]
