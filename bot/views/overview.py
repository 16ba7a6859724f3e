"""The open-incident list and the timeline, as ephemeral Block Kit messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.incidents.rules import Role, Severity, Status
from bot.text import escape_mrkdwn, noun, plural
from bot.views import Blocks
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
    "alert_retriggered": "Alert triggered again",
    "alert_escalated": "Automatic fix failed",
    "pagerduty_resolved": "PagerDuty",
}


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since) / timedelta(minutes=1))
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def incident_line(incident: Incident, now: datetime) -> str:
    """One incident in mrkdwn: ref, severity, status, IC, age, channel, then its escaped title."""
    line = (
        f"*{incident.ref}* · {Severity(incident.severity).label} · {Status(incident.status).label} · "
        f"IC <@{incident.commander_id}> · {_age(incident.declared_at, now)}"
    )
    where = f" · <#{incident.channel_id}>" if incident.channel_id else ""
    title = escape_mrkdwn(incident.title) + (" :lock:" if incident.private else "")
    return f"{line}{where}\n{title}"


def incident_sections(
    incidents: list[Incident], *, now: datetime, hidden: int = 0, empty: str | None = None
) -> Blocks:
    """A section per incident (at most LIST_MAX), then what is not shown; `empty` when none."""
    if not incidents:
        return [_section(empty or _none_open(hidden))]
    blocks = [_section(incident_line(incident, now)) for incident in incidents[:LIST_MAX]]
    notes = []
    if len(incidents) > LIST_MAX:
        notes.append(f"and {len(incidents) - LIST_MAX} more")
    if hidden:
        private = plural(hidden, "private incident")
        notes.append(f"{private} you are not part of {noun(hidden, 'is', 'are')} not shown")
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "; ".join(notes)}]})
    return blocks


def incident_list(incidents: list[Incident], *, now: datetime, hidden: int) -> tuple[str, Blocks]:
    """Open incidents, worst first: severity, status, IC, age, channel."""
    text = plural(len(incidents), "open incident") if incidents else _none_open(hidden)
    return text, incident_sections(incidents, now=now, hidden=hidden)


def _none_open(hidden: int) -> str:
    return "No open incidents." + (f" ({hidden} private not shown.)" if hidden else "")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


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
    if event.kind == "role_assigned":
        was = f"<@{event.data['from']}>" if event.data.get("from") else "nobody"
        text = f"{Role(event.data['role']).label}: {was} → <@{event.data['to']}>"
    elif event.data.get("permalink"):
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
    blocks = [_section(text) for text in sections]
    return [blocks[i : i + SECTIONS_PER_MESSAGE] for i in range(0, len(blocks), SECTIONS_PER_MESSAGE)]
