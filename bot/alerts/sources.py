"""Alerts from every source read into one shape, a `Signal`: what triage, de-duplication and
the war room need, whatever sent it.

Alertmanager (webhook payload version 4) and Grafana (its webhook contact point, the same shape
plus its own fields) send a group of alerts per request, each with a `fingerprint` that names
the alert across notifications; the generic webhook sends one alert or `{"alerts": [...]}` in
the schema below. PagerDuty's incident data is read into a Signal too, where it is processed.
A body that does not fit is refused whole with the reason (`InvalidInput`), before anything is
stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.incidents.errors import InvalidInput

Source = Literal["alertmanager", "grafana", "webhook"]
MAX_ALERTS = 1000  # in one request
_HIGH = ("critical", "page", "emergency", "fatal", "sev1", "sev2", "p1", "p2", "high", "error")
_SEVERITY = {
    "critical": 1, "emergency": 1, "fatal": 1, "page": 1, "sev1": 1, "p1": 1,
    "error": 2, "major": 2, "high": 2, "sev2": 2, "p2": 2,
    "warning": 3, "warn": 3, "medium": 3, "minor": 3, "sev3": 3, "p3": 3,
    "info": 4, "low": 4, "sev4": 4, "p4": 4, "none": 4,
}  # fmt: skip


_LINK = re.compile(r"^https?://[^\s<>|\"']{1,1990}$")


class Link(BaseModel):
    """A link an alert carries: its graph, dashboard, runbook or silence page."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(default="link", max_length=100)
    url: str = Field(pattern=_LINK.pattern)  # nothing that could break out of a Slack link


class Signal(BaseModel):
    """One alert's state as one source reported it at one time."""

    model_config = ConfigDict(frozen=True)
    source: str = Field(max_length=40)
    key: str = Field(max_length=255)  # de-duplication key, unique across sources
    status: Literal["firing", "resolved"]
    name: str = Field(default="", max_length=200)  # the alert rule's name
    title: str = Field(max_length=1024)
    service: str = Field(default="", max_length=200)
    severity: str = Field(default="", max_length=50)
    urgency: Literal["high", "low", ""] = ""
    labels: dict[str, str] = Field(default_factory=dict)
    links: tuple[Link, ...] = ()
    at: datetime  # when it started firing, or resolved
    raw: dict[str, Any] = Field(default_factory=dict)  # what the source sent for this alert

    def severity_level(self) -> int | None:
        """The incident severity (1-4) the alert's own severity names, if it names one."""
        return severity_level(self.severity)


class Stored(BaseModel):
    """A delivery's body as Warroom keeps it for a source other than PagerDuty."""

    source: str
    signals: list[Signal]


def stored_body(source: Source, signals: list[Signal]) -> str:
    """The delivery's body to keep: its signals as JSON."""
    return Stored(source=source, signals=signals).model_dump_json()


def severity_level(severity: str) -> int | None:
    """The incident severity (1-4) an alert severity such as `critical` or `P2` names."""
    return _SEVERITY.get(severity.lower())


def read_group(source: Source, payload: Any) -> list[Signal]:
    """The signals in one request's JSON; InvalidInput naming what does not fit."""
    try:
        if source == "webhook":
            alerts = payload.get("alerts") if isinstance(payload, dict) and "alerts" in payload else [payload]
            if not isinstance(alerts, list):
                raise InvalidInput("`alerts` must be a list")
            signals = [_generic(GenericAlert.model_validate(alert)) for alert in _bounded(alerts)]
        else:
            group = Group.model_validate(payload)
            signals = [_grouped(source, group, alert) for alert in _bounded(group.alerts)]
    except ValidationError as exc:
        raise InvalidInput(_first_error(exc)) from None
    return signals


class GroupedAlert(BaseModel):
    """One alert of an Alertmanager or Grafana notification."""

    model_config = ConfigDict(extra="allow")
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(default="", max_length=200)
    # Grafana's own fields
    dashboardURL: str = ""
    panelURL: str = ""
    silenceURL: str = ""

    @field_validator("endsAt", mode="before")
    @classmethod
    def _zero_time(cls, value: object) -> object:
        """Alertmanager sends the zero time for an alert that has not ended."""
        return None if isinstance(value, str) and value.startswith("0001-01-01") else value


class Group(BaseModel):
    """An Alertmanager (version 4) or Grafana webhook notification."""

    model_config = ConfigDict(extra="allow")
    version: str = "4"
    groupKey: str = ""
    status: Literal["firing", "resolved"]
    receiver: str = ""
    externalURL: str = ""
    alerts: list[GroupedAlert]


class GenericAlert(BaseModel):
    """The generic webhook's alert (the README's "Any signed webhook" documents it)."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    dedup_key: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=1024)
    status: Literal["firing", "resolved"] = "firing"
    severity: str = Field(default="", max_length=50)
    service: str = Field(default="", max_length=200)
    labels: dict[str, str] = Field(default_factory=dict)
    links: list[Link] = Field(default_factory=list, max_length=20)
    occurred_at: datetime | None = None

    @field_validator("source")
    @classmethod
    def _not_another_source(cls, value: str) -> str:
        """A generic sender cannot pass for a source Warroom reads itself."""
        if value.lower() in ("pagerduty", "alertmanager", "grafana"):
            raise ValueError(f"{value} alerts have their own endpoint; name this sender otherwise")
        return value


def _grouped(source: Source, group: Group, alert: GroupedAlert) -> Signal:
    labels, notes = alert.labels, alert.annotations
    fingerprint = alert.fingerprint or _fingerprint(labels)
    links = [
        ("graph" if source == "alertmanager" else "source", alert.generatorURL),
        ("dashboard", alert.dashboardURL),
        ("panel", alert.panelURL),
        ("runbook", notes.get("runbook_url", "")),
        ("silence", alert.silenceURL),
    ]
    name = labels.get("alertname", "")
    return Signal(
        source=source,
        key=f"{source}:{fingerprint}",
        status=alert.status,
        name=name[:200],
        title=(notes.get("summary") or notes.get("title") or name or "untitled alert")[:1024],
        service=(labels.get("service") or labels.get("app") or labels.get("job") or "")[:200],
        severity=labels.get("severity", "")[:50],
        urgency=_urgency(labels.get("severity", "")),
        labels=labels,
        links=tuple(Link(text=text, url=url) for text, url in links if _LINK.match(url)),
        at=_utc(alert.endsAt if alert.status == "resolved" and alert.endsAt else alert.startsAt),
        raw=alert.model_dump(mode="json", exclude={"labels"})
        | {"receiver": group.receiver, "groupKey": group.groupKey},
    )


def _generic(alert: GenericAlert) -> Signal:
    return Signal(
        source=alert.source,
        key=f"webhook:{alert.source}:{alert.dedup_key}",
        status=alert.status,
        name=alert.labels.get("alertname", "")[:200],
        title=alert.title,
        service=alert.service,
        severity=alert.severity,
        urgency=_urgency(alert.severity),
        labels=alert.labels,
        links=tuple(alert.links),
        at=_utc(alert.occurred_at or datetime.now(UTC)),
        raw=alert.model_dump(mode="json", exclude={"labels", "title", "links"}),
    )


def from_pagerduty(data: dict[str, Any], at: datetime) -> Signal:
    """A PagerDuty incident's trigger as a signal (its key is PagerDuty's `incident_key`)."""
    service = data.get("service") or {}
    priority = str((data.get("priority") or {}).get("summary") or "")
    urgency = data.get("urgency")
    return Signal(
        source="pagerduty",
        key=str(data.get("incident_key") or data.get("id") or "")[:255],
        status="firing",
        title=str(data.get("title") or "untitled alert")[:1024],
        service=str(service.get("summary") or "")[:200],
        severity=priority[:50],
        urgency="high" if urgency == "high" else "low" if urgency == "low" else "",
        at=at,
        raw=data,
    )


def _bounded(alerts: list[Any]) -> list[Any]:
    if not alerts:
        raise InvalidInput("no alerts in the body")
    if len(alerts) > MAX_ALERTS:
        raise InvalidInput(f"more than {MAX_ALERTS} alerts in one request")
    return alerts


def _urgency(severity: str) -> Literal["high", "low"]:
    return "high" if severity.lower() in _HIGH else "low"


def _fingerprint(labels: dict[str, str]) -> str:
    """A stable name for an alert sent without a fingerprint: its label set."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput("alert times must carry their zone")
    return moment.astimezone(UTC)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
