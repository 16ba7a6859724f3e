"""Incident events as outgoing webhooks send them: the timeline is the outbox (every change is a
timeline event written in the change's own transaction), each kind of entry has an event type,
and a private incident's event is redacted for an endpoint not allowed to see it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.incidents.rules import Severity
from storage.models import Incident, TimelineEvent

# timeline kind → event type; a status change to resolved is `incident.resolved`
TYPES = {
    "declared": "incident.declared",
    "severity_changed": "incident.severity_changed",
    "status_changed": "incident.status_changed",
    "role_assigned": "incident.role_assigned",
    "update": "incident.updated",
    "note": "incident.note_added",
    "closed": "incident.closed",
    "reopened": "incident.reopened",
    "alert": "incident.alert_linked",
    "alert_escalated": "alert.escalated",
    "paged": "incident.paged",
    "remediation_finished": "remediation.finished",
    "followup_added": "followup.added",
    "followup_done": "followup.done",
}
EVENT_TYPES = frozenset(TYPES.values()) | {"incident.resolved"}
REDACTED = "Private incident"


def event_type(event: TimelineEvent) -> str | None:
    """The event type a timeline entry is sent as, or None (not sent)."""
    if event.kind == "status_changed" and (event.data or {}).get("to") == "resolved":
        return "incident.resolved"
    return TYPES.get(event.kind)


def payload(event: TimelineEvent, incident: Incident, *, private_allowed: bool) -> dict[str, Any]:
    """The body of the webhook for `event` (Standard Webhooks' type, timestamp, data)."""
    kind = event_type(event)
    assert kind is not None
    hidden = incident.private and not private_allowed
    return {
        "type": kind,
        "timestamp": event.at.astimezone(UTC).isoformat(),
        "data": {
            "incident": {
                "number": incident.number,
                "ref": incident.ref,
                "title": REDACTED if hidden else incident.title,
                "severity": Severity(incident.severity).label,
                "status": incident.status,
                "private": incident.private,
                "drill": incident.drill_of is not None,
                "commander": None if hidden else incident.commander_id,
                "declared_at": _iso(incident.declared_at),
                "resolved_at": _iso(incident.resolved_at),
                "closed_at": _iso(incident.closed_at),
                "channel_id": None if hidden else incident.channel_id,
            },
            "event": {
                "id": event.id,
                "kind": event.kind,
                "at": _iso(event.at),
                "actor": None if hidden else event.actor_id,
                "text": "" if hidden else event.text,
                "data": {} if hidden else (event.data or {}),
            },
            "redacted": hidden,
        },
    }


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None
