"""Which runbooks fit an incident, and why: services, alert name globs, title keywords, severity.

Built once per catalogue (globs compiled, keywords lowered), so matching an incident against
a thousand runbooks takes a few milliseconds.
"""

from __future__ import annotations

import fnmatch
import heapq
import re
from collections import defaultdict
from dataclasses import dataclass

from bot.playbooks.models import Playbook
from bot.text import noun

MAX_MATCHES = 3
ALERT_INDEX_CHARS = 3
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Facts:
    """What is known about an incident that a runbook can match on."""

    title: str
    severity: int
    service: str | None = None
    alert: str | None = None


@dataclass(frozen=True)
class Fit:
    """A runbook that fits, with its score and the reasons a person reads."""

    playbook: Playbook
    score: int
    reasons: tuple[str, ...]
    alert: str | None = None  # the alert glob that matched, if the alert did

    @property
    def why(self) -> str:
        """E.g. "service checkout, alert HighErrorRate*, keywords checkout, 500"."""
        return ", ".join(self.reasons)


@dataclass(frozen=True)
class _Entry:
    playbook: Playbook
    severities: frozenset[int]


class Catalog:
    """The loaded runbooks, indexed so an incident only meets what could fit it: keywords by
    one of their words, services by name, alert globs by the literal text they start and end
    with. Only the best few get their reasons written."""

    def __init__(self, playbooks: list[Playbook]) -> None:
        self.playbooks = {playbook.id: playbook for playbook in playbooks}
        self._entries = [_Entry(p, frozenset(p.meta.match.severities)) for p in playbooks]
        self._keywords: dict[str, list[tuple[int, str, frozenset[str]]]] = defaultdict(list)
        self._services: dict[str, set[int]] = defaultdict(set)
        self._alerts: dict[tuple[str, str], list[tuple[int, str, re.Pattern[str]]]] = defaultdict(list)
        for index, playbook in enumerate(playbooks):
            match = playbook.meta.match
            for keyword in match.keywords:
                parts = frozenset(_WORD.findall(keyword.lower()))
                if parts:
                    self._keywords[min(parts)].append((index, keyword, parts))
            for service in match.services:
                self._services[service.lower()].add(index)
            for glob in match.alerts:
                pattern = re.compile(fnmatch.translate(glob), re.IGNORECASE)
                self._alerts[_literal_ends(glob)].append((index, glob, pattern))

    def get(self, playbook_id: str) -> Playbook | None:
        """A runbook by id."""
        return self.playbooks.get(playbook_id)

    def match(self, facts: Facts, limit: int = MAX_MATCHES) -> list[Fit]:
        """The best-fitting runbooks, best first."""
        words = frozenset(_WORD.findall(facts.title.lower()))
        keywords: dict[int, list[str]] = defaultdict(list)
        for word in words:
            for index, keyword, parts in self._keywords.get(word, ()):
                if parts <= words:
                    keywords[index].append(keyword)
        services = self._services.get(facts.service.lower(), set()) if facts.service else set()
        alerts = self._alert_hits(facts.alert) if facts.alert else {}
        ranked = []
        for index in keywords.keys() | services | alerts.keys():
            entry = self._entries[index]
            if entry.severities and facts.severity not in entry.severities:
                continue
            score = len(keywords.get(index, ())) + 3 * (index in services) + 3 * (index in alerts)
            ranked.append((-score, entry.playbook.id, index))
        return [
            self._fit(index, -negative, facts, alerts.get(index), keywords.get(index, []))
            for negative, _, index in heapq.nsmallest(limit, ranked)
        ]

    def _alert_hits(self, alert: str) -> dict[int, str]:
        lowered, hits = alert.lower(), {}
        for (start, end), globs in self._alerts.items():
            if lowered.startswith(start) and lowered.endswith(end):
                for index, glob, pattern in globs:
                    if index not in hits and pattern.match(alert):
                        hits[index] = glob
        return hits

    def _fit(self, index: int, score: int, facts: Facts, glob: str | None, keywords: list[str]) -> Fit:
        playbook = self._entries[index].playbook
        reasons = []
        if facts.service and facts.service.lower() in {s.lower() for s in playbook.meta.match.services}:
            reasons.append(f"service {facts.service}")
        if glob is not None:
            reasons.append(f"alert {glob}")
        if keywords:
            ordered = [k for k in playbook.meta.match.keywords if k in keywords]
            reasons.append(f"{noun(len(ordered), 'keyword')} {', '.join(ordered)}")
        return Fit(playbook, score, tuple(reasons), glob)


def _literal_ends(glob: str) -> tuple[str, str]:
    """The few literal characters a glob's matches must start and end with (lowercased)."""
    parts = re.split(r"[*?\[\]]", glob.lower())
    start = parts[0][:ALERT_INDEX_CHARS]
    end = parts[-1][-ALERT_INDEX_CHARS:] if len(parts) > 1 else ""
    return start, end
