"""Triage rules (YAML): which alerts open an incident, which notify a channel, which are counted.

The first rule that matches decides: *high* opens an incident (and pages, if the rule names a
PagerDuty service), *low* posts a notice in the rule's or the service's channel (mentioning
whom the rule names), *info* posts a notice without a mention, *ignore* only counts. An alert no
rule matches is treated as the file's `default`, else as `WARROOM_UNKNOWN_ALERTS` (high: an
alert never seen before may be an outage until someone sorts it).
"""

from __future__ import annotations

import fnmatch
import heapq
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from bot.alerts.sources import Signal

log = logging.getLogger(__name__)
_GLOB = re.compile(r"[*?\[]")
Decision = Literal["high", "low", "info", "ignore"]
_FIELDS: dict[str, Callable[[Signal], str]] = {
    "key": lambda signal: signal.key,
    "source": lambda signal: signal.source,
    "service": lambda signal: signal.service,
    "title": lambda signal: signal.title,
    "alert": lambda signal: signal.name,
    "severity": lambda signal: signal.severity,
    "urgency": lambda signal: signal.urgency,
    "priority": lambda signal: signal.severity if signal.source == "pagerduty" else "",
}


_INDEXED = ("key", "alert", "title", "service", "severity", "source", "urgency", "priority")


class RuleMatch(BaseModel):
    """What an alert must have for a rule to apply: case-insensitive globs on its
    de-duplication key, source, service, title, alert name, severity, urgency, PagerDuty
    priority and any label."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = "*"
    source: str = "*"
    service: str = "*"
    title: str = "*"
    alert: str = "*"
    severity: str = "*"
    urgency: str = "*"
    priority: str = "*"
    labels: dict[str, str] = Field(default_factory=dict)
    _tests: tuple[tuple[Callable[[Signal], str | None], re.Pattern[str]], ...] = PrivateAttr(default=())

    def model_post_init(self, context: object) -> None:
        """Compile each glob once: a thousand rules are tried on every alert."""
        tests: list[tuple[Callable[[Signal], str | None], re.Pattern[str]]] = [
            (read, _compile(getattr(self, name)))
            for name, read in _FIELDS.items()
            if getattr(self, name) != "*"
        ]
        tests += [(_label_reader(label), _compile(pattern)) for label, pattern in self.labels.items()]
        self._tests = tuple(tests)

    def matches(self, signal: Signal) -> bool:
        """Whether the alert has everything this match asks for."""
        return all(
            (value := read(signal)) is not None and pattern.match(value) for read, pattern in self._tests
        )

    def exact(self) -> tuple[str, str] | None:
        """A field this match needs to equal one value (no glob), the most telling one first:
        rules are looked up by it instead of all being tried."""
        for name in _INDEXED:
            pattern = getattr(self, name)
            if pattern != "*" and not _GLOB.search(pattern):
                return name, pattern.lower()
        for label, pattern in sorted(self.labels.items()):
            if not _GLOB.search(pattern):
                return f"label:{label}", pattern.lower()
        return None


class Rule(BaseModel):
    """One triage rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    match: RuleMatch = Field(default_factory=RuleMatch)
    triage: Decision
    severity: int | None = Field(default=None, ge=1, le=4)  # else the alert's own, else 2
    channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,}$")
    mention: str | None = Field(default=None, pattern=r"^[USW][A-Z0-9]{2,}$")  # a user or user group
    page: str | None = Field(default=None, pattern=r"^P[A-Z0-9]{3,}$")  # a PagerDuty service id (high)


class Rules(BaseModel):
    """The whole triage file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: tuple[Rule, ...] = ()
    default: Decision | None = None
    notice_channels: dict[str, str] = Field(default_factory=dict)
    default_notice_channel: str | None = None
    info_channel: str | None = None

    _exact: dict[tuple[str, str], list[int]] = PrivateAttr(default_factory=dict)
    _always: list[int] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: object) -> None:
        """Index the rules by the one value each needs exactly; the rest are always tried."""
        for position, rule in enumerate(self.rules):
            if (exact := rule.match.exact()) is not None:
                self._exact.setdefault(exact, []).append(position)
            else:
                self._always.append(position)

    def decide(self, signal: Signal) -> tuple[Decision, Rule | None]:
        """The decision for an alert and the rule that made it (None: the default): the first
        rule, in file order, that matches."""
        values = [(name, _FIELDS[name](signal).lower()) for name in _INDEXED]
        values += [(f"label:{label}", value.lower()) for label, value in signal.labels.items()]
        found = [self._exact[value] for value in values if value in self._exact]
        for position in heapq.merge(self._always, *found):
            rule = self.rules[position]
            if rule.match.matches(signal):
                return rule.triage, rule
        return self.default or "high", None

    def notice_channel(self, decision: Decision, service: str, rule: Rule | None) -> str | None:
        """Where a low or info alert's notice goes: the rule's channel, else the service's (low)
        or the info channel, else the default notice channel."""
        if rule is not None and rule.channel:
            return rule.channel
        if decision == "info":
            return self.info_channel or self.default_notice_channel
        return self.notice_channels.get(service, self.default_notice_channel)

    def replaced(self, **changes: Any) -> Rules:
        """These rules with some fields changed, indexed anew (a model copy keeps the old index)."""
        return Rules(**{name: getattr(self, name) for name in type(self).model_fields} | changes)


def load_rules(path: Path, unknown: Decision = "high") -> Rules:
    """The rules in `path`, alerts no rule matches treated as `unknown` unless the file says; a
    missing or bad file leaves every alert at `unknown` (logged)."""
    if not path.is_file():
        log.warning("no triage rules at %s: every alert is triaged %s", path, unknown)
        return Rules(default=unknown)
    try:
        rules = Rules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        log.error("triage rules in %s are invalid, every alert is triaged %s: %s", path, unknown, exc)
        return Rules(default=unknown)
    return rules if rules.default else rules.replaced(default=unknown)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def _label_reader(label: str) -> Callable[[Signal], str | None]:
    """A label's value; None (matching no pattern) for an alert without it."""
    return lambda signal: signal.labels.get(label)
