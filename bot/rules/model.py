"""The rules file, validated whole (a bad file names the file, the rule and the field), and which
rules an incident event sets off.

```yaml
rules:
  - name: sev1-payments
    on: [declared, severity_changed]
    when: {severity: [1], service: "payments*"}
    do:
      - invite: [S0PAYONCALL]
      - page: PPAYMENTS
      - post: {channel: C0EXEC, text: "{ref} ({severity}) {title}: {channel}"}
      - followup: "Review the payments runbook after {ref}"
```
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import WarroomError
from bot.incidents.rules import Severity
from bot.text import escape_mrkdwn
from storage.models import Alert, Incident, TimelineEvent

TRIGGERS = {
    "declared": "declared",
    "severity_changed": "severity_changed",
    "status_changed": "status_changed",
    "role_assigned": "role_assigned",
    "closed": "closed",
    "reopened": "reopened",
    "alert": "alert_linked",
    "remediation_finished": "remediation_finished",
}
TRIGGER_NAMES = frozenset(TRIGGERS.values()) | {"resolved"}
FIELDS = ("ref", "number", "title", "severity", "status", "commander", "channel", "rule")


class BadRules(WarroomError):
    """The rules file cannot be used; the message says where and why."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(Strict):
    """Conditions, all of which must hold (an absent one always does)."""

    severity: tuple[int, ...] | None = None
    status: tuple[str, ...] | None = None
    service: str | None = None  # a glob on the service of an alert linked to the incident
    labels: dict[str, str] = Field(default_factory=dict)  # globs on a linked alert's labels
    private: bool | None = None
    drill: bool | None = None
    minutes_since_declared: int | None = Field(default=None, ge=0)  # at least this old


class Post(Strict):
    """A message for a channel; `text` may name the fields in FIELDS, e.g. `{ref}`."""

    channel: str = Field(pattern=r"^[CG][A-Z0-9]{2,}$")
    text: str = Field(min_length=1, max_length=3000)

    @field_validator("text")
    @classmethod
    def _known_fields(cls, text: str) -> str:
        try:
            text.format_map(dict.fromkeys(FIELDS, ""))
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(f"the text names {exc} ; it may name {', '.join(FIELDS)}") from None
        return text


class Do(Strict):
    """One action: exactly one of these."""

    invite: tuple[str, ...] | None = None  # Slack user (U…) or user group (S…) ids
    post: Post | None = None
    page: str | None = Field(default=None, pattern=r"^P[A-Z0-9]{3,}$")  # a PagerDuty service id
    followup: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one(self) -> Do:
        chosen = [name for name in ("invite", "post", "page", "followup") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError("each action is exactly one of invite, post, page or followup")
        for entry in self.invite or ():
            if not (entry[:1] in "UWS" and entry[1:].isalnum() and entry.isupper()):
                raise ValueError(f"{entry!r} is not a Slack user or user group id")
        return self


class Rule(Strict):
    """When `on` happens and `when` holds, `do`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    on: tuple[str, ...] = Field(min_length=1)
    when: When = Field(default_factory=When)
    do: tuple[Do, ...] = Field(min_length=1)

    @field_validator("on")
    @classmethod
    def _triggers(cls, on: tuple[str, ...]) -> tuple[str, ...]:
        for trigger in on:
            if trigger not in TRIGGER_NAMES:
                raise ValueError(f"{trigger!r} is not a trigger ({', '.join(sorted(TRIGGER_NAMES))})")
        return on


class RuleSet(Strict):
    """The whole file."""

    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [rule.name for rule in rules]
        if len(names) != len(set(names)):
            raise ValueError("two rules have the same name")
        return rules


def load_rule_set(path: Path | None) -> RuleSet:
    """The rules in `path` (none without one); BadRules names the file, rule and field."""
    if path is None:
        return RuleSet()
    try:
        return RuleSet.model_validate(_read(path))
    except OSError as exc:
        raise BadRules(f"WARROOM_RULES: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BadRules(f"WARROOM_RULES: {path} is not YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = list(first["loc"])
        raw = _read(path)
        if len(where) > 1 and where[0] == "rules" and isinstance(where[1], int):
            rules = raw.get("rules") or []
            name = (
                rules[where[1]].get("name")
                if where[1] < len(rules) and isinstance(rules[where[1]], dict)
                else None
            )
            where[1] = f"{where[1]} ({name})" if name else where[1]
        raise BadRules(f"WARROOM_RULES: {path}: {'.'.join(map(str, where))}: {first['msg']}") from None


def _read(path: Path) -> Any:
    """The file's YAML, `on:` as written (YAML 1.1 reads a bare `on` key as true)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for rule in (raw.get("rules") or []) if isinstance(raw, dict) else []:
        if isinstance(rule, dict) and True in rule:
            rule["on"] = rule.pop(True)
    return raw


def trigger_of(event: TimelineEvent) -> str | None:
    """The trigger a timeline event is, or None."""
    if event.kind == "status_changed" and (event.data or {}).get("to") == "resolved":
        return "resolved"
    return TRIGGERS.get(event.kind)


def fits(rule: Rule, trigger: str, incident: Incident, alerts: list[Alert], now: datetime) -> bool:
    """Whether `rule` is set off by `trigger` on `incident` (with its linked `alerts`) now."""
    when = rule.when
    checks = (
        trigger in rule.on,
        when.severity is None or incident.severity in when.severity,
        when.status is None or incident.status in when.status,
        when.private is None or incident.private == when.private,
        when.drill is None or (incident.drill_of is not None) == when.drill,
        when.service is None
        or any(fnmatch.fnmatch(alert.service_name.lower(), when.service.lower()) for alert in alerts),
        not when.labels
        or any(
            all(fnmatch.fnmatch(alert.labels.get(k, ""), v) for k, v in when.labels.items())
            for alert in alerts
        ),
        when.minutes_since_declared is None
        or now - incident.declared_at >= timedelta(minutes=when.minutes_since_declared),
    )
    return all(checks)


def render(text: str, incident: Incident, rule: str) -> str:
    """A post's text with the incident's fields filled in, escaped for mrkdwn; a private
    incident's title is never written out."""
    values: dict[str, Any] = {
        "ref": incident.ref,
        "number": incident.number,
        "title": "a private incident" if incident.private else escape_mrkdwn(incident.title),
        "severity": Severity(incident.severity).label,
        "status": incident.status,
        "commander": f"<@{incident.commander_id}>",
        "channel": f"<#{incident.channel_id}>" if incident.channel_id else "(its room is opening)",
        "rule": rule,
    }
    return text.format_map(values)
