"""The HTTP API's documents: what it answers and accepts (pydantic models, so the OpenAPI
document is the code's own), and the problem details (RFC 9457) of every error."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.incidents.rules import NOTE_MAX, SUMMARY_MAX, TITLE_MAX, Severity
from storage.models import Alert, FollowUp, Incident, TimelineEvent

PROBLEM_TYPE = "application/problem+json"
# What the incident rules accept, said in the schema: a visible character (not a space, control,
# bidi or zero-width one), and in a title no control character but a newline.
_VISIBLE = r"[^\s\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF\x00-\x1F\x7F-\x9F]"
_LINE = r"[^\x00-\x09\x0B-\x1F\x7F-\x9F]*"  # a newline at most
_LINES = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*"  # tabs and line breaks too
TITLE = rf"^{_LINE}{_VISIBLE}{_LINE}$"
TEXT = rf"^{_LINES}{_VISIBLE}{_LINES}$"
SUMMARY = rf"^{_LINES}$"
WORDS = r"^[^\x00-\x1F\x7F-\x9F]*$"  # a search term or name in a query: one line, no controls
SLACK_USER = r"^[UW][A-Z0-9]{2,20}$"
OpenStatus = Literal["investigating", "identified", "monitoring", "resolved"]
StatusFilter = Literal["open", "closed", "investigating", "identified", "monitoring", "resolved"]


class Strict(BaseModel):
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(default=None, description="Each invalid field, for a 422")


class IncidentOut(BaseModel):
    """An incident as the API shows it."""

    number: int
    ref: str = Field(examples=["INC-7"])
    title: str
    summary: str
    severity: int = Field(ge=1, le=4, description="1 is the worst")
    severity_label: str = Field(examples=["SEV2"])
    status: str
    private: bool
    drill: bool
    commander: str = Field(description="The incident commander's Slack user id")
    declared_by: str
    declared_at: datetime
    identified_at: datetime | None
    monitoring_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    channel_id: str | None = Field(description="The war room, once it is open")
    channel_name: str | None

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """The API's view of a stored incident."""
        return cls(
            number=incident.number,
            ref=incident.ref,
            title=incident.title,
            summary=incident.summary,
            severity=incident.severity,
            severity_label=Severity(incident.severity).label,
            status=incident.status,
            private=incident.private,
            drill=incident.drill_of is not None,
            commander=incident.commander_id,
            declared_by=incident.declared_by,
            declared_at=incident.declared_at,
            identified_at=incident.identified_at,
            monitoring_at=incident.monitoring_at,
            resolved_at=incident.resolved_at,
            closed_at=incident.closed_at,
            channel_id=incident.channel_id,
            channel_name=incident.channel_name,
        )


class IncidentPage(BaseModel):
    """Incidents, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[IncidentOut]
    next_cursor: str | None


class EventOut(BaseModel):
    """One timeline entry."""

    id: int
    at: datetime
    kind: str
    actor: str | None = Field(description="Slack user id of whoever did it")
    text: str

    @classmethod
    def of(cls, event: TimelineEvent) -> EventOut:
        """The API's view of a timeline event."""
        assert event.id is not None
        return cls(id=event.id, at=event.at, kind=event.kind, actor=event.actor_id, text=event.text)


class TimelinePage(BaseModel):
    """Timeline entries, oldest first."""

    items: list[EventOut]
    next_cursor: str | None


class FollowUpOut(BaseModel):
    """A follow-up of an incident."""

    id: int
    text: str
    owner: str | None
    due_on: date | None
    done_at: datetime | None
    done_by: str | None

    @classmethod
    def of(cls, followup: FollowUp) -> FollowUpOut:
        """The API's view of a follow-up."""
        assert followup.id is not None
        return cls(
            id=followup.id,
            text=followup.text,
            owner=followup.owner_id,
            due_on=followup.due_on,
            done_at=followup.done_at,
            done_by=followup.done_by,
        )


class AlertOut(BaseModel):
    """An alert from any source, de-duplicated, with how it was triaged."""

    id: int
    source: str
    name: str
    title: str
    service: str
    severity: str
    status: str
    triage: str
    rule: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    incident: int | None = Field(description="The number of the incident it opened or joined")

    @classmethod
    def of(cls, alert: Alert, incident: int | None) -> AlertOut:
        """The API's view of an alert."""
        assert alert.id is not None
        return cls(
            id=alert.id,
            source=alert.source,
            name=alert.name,
            title=alert.title,
            service=alert.service_name,
            severity=alert.severity,
            status=alert.status,
            triage=alert.triage,
            rule=alert.rule,
            count=alert.count,
            first_seen_at=alert.first_seen_at,
            last_seen_at=alert.last_seen_at,
            acknowledged_at=alert.acknowledged_at,
            resolved_at=alert.resolved_at,
            incident=incident,
        )


class AlertPage(BaseModel):
    """Alerts, newest first."""

    items: list[AlertOut]
    next_cursor: str | None


class DeclareIn(Strict):
    """A declaration: the same war room opens as for `/incident declare`."""

    title: str = Field(min_length=1, max_length=TITLE_MAX, pattern=TITLE)
    severity: int = Field(default=3, ge=1, le=4)
    summary: str = Field(default="", max_length=SUMMARY_MAX, pattern=SUMMARY)
    private: bool = False
    commander: str | None = Field(
        default=None, pattern=SLACK_USER, description="Slack user id of the IC (invited); else Warroom"
    )


class SeverityIn(Strict):
    """A new severity."""

    severity: int = Field(ge=1, le=4)


class StatusIn(Strict):
    """A new status; `summary` is said with it (e.g. how it was resolved)."""

    status: OpenStatus
    summary: str = Field(default="", max_length=SUMMARY_MAX, pattern=SUMMARY)


class TextIn(Strict):
    """A note for the timeline, or a status update for the room and the broadcast channel."""

    text: str = Field(min_length=1, max_length=NOTE_MAX, pattern=TEXT)
