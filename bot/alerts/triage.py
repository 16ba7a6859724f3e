"""Triage rules (YAML): which alerts open an incident, which only notify, which are counted."""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)
Decision = Literal["high", "low", "ignore"]


class RuleMatch(BaseModel):
    """What an alert must have for a rule to apply; globs for service, title and priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    service: str = "*"
    title: str = "*"
    urgency: Literal["high", "low", "*"] = "*"
    priority: str = "*"


class Rule(BaseModel):
    """One triage rule; the first that matches decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    match: RuleMatch = Field(default_factory=RuleMatch)
    triage: Decision
    severity: int = Field(default=2, ge=1, le=4)


class Rules(BaseModel):
    """The whole triage file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: tuple[Rule, ...] = ()
    default: Decision = "low"
    notice_channels: dict[str, str] = Field(default_factory=dict)
    default_notice_channel: str | None = None

    def decide(self, service: str, title: str, urgency: str, priority: str) -> tuple[Decision, Rule | None]:
        """The decision for an alert and the rule that made it (None: the default)."""
        for rule in self.rules:
            m = rule.match
            if (
                fnmatch.fnmatch(service.lower(), m.service.lower())
                and fnmatch.fnmatch(title.lower(), m.title.lower())
                and m.urgency in ("*", urgency)
                and fnmatch.fnmatch(priority.lower(), m.priority.lower())
            ):
                return rule.triage, rule
        return self.default, None

    def notice_channel(self, service: str) -> str | None:
        """Where low-urgency alerts of a service are posted."""
        return self.notice_channels.get(service, self.default_notice_channel)


def load_rules(path: Path) -> Rules:
    """The rules in `path`; a missing or bad file leaves every alert at the default (logged)."""
    if not path.is_file():
        log.warning("no triage rules at %s: every alert is triaged low", path)
        return Rules()
    try:
        return Rules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        log.error("triage rules in %s are invalid, every alert is triaged low: %s", path, exc)
        return Rules()
