"""Which runbooks fit an incident, and why: services, alert name globs, title keywords, severity.

Built once per catalogue (globs compiled, keywords lowered), so matching an incident against
a thousand runbooks takes a few milliseconds.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from bot.playbooks.models import Playbook

MAX_MATCHES = 3
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

    @property
    def why(self) -> str:
        """E.g. "service checkout, alert HighErrorRate*, keywords checkout, 500"."""
        return ", ".join(self.reasons)


@dataclass(frozen=True)
class _Compiled:
    playbook: Playbook
    services: frozenset[str]
    alerts: tuple[tuple[str, re.Pattern[str]], ...]
    keywords: tuple[tuple[str, frozenset[str]], ...]
    severities: frozenset[int]


class Catalog:
    """The loaded runbooks, ready to match."""

    def __init__(self, playbooks: list[Playbook]) -> None:
        self.playbooks = {playbook.id: playbook for playbook in playbooks}
        self._compiled = [_compile(playbook) for playbook in playbooks]

    def get(self, playbook_id: str) -> Playbook | None:
        """A runbook by id."""
        return self.playbooks.get(playbook_id)

    def match(self, facts: Facts, limit: int = MAX_MATCHES) -> list[Fit]:
        """The best-fitting runbooks, best first."""
        words = frozenset(_WORD.findall(facts.title.lower()))
        fits = [fit for entry in self._compiled if (fit := _fit(entry, facts, words)) is not None]
        fits.sort(key=lambda fit: (-fit.score, fit.playbook.id))
        return fits[:limit]


def _compile(playbook: Playbook) -> _Compiled:
    match = playbook.meta.match
    return _Compiled(
        playbook=playbook,
        services=frozenset(service.lower() for service in match.services),
        alerts=tuple((glob, re.compile(fnmatch.translate(glob), re.IGNORECASE)) for glob in match.alerts),
        keywords=tuple((word, frozenset(_WORD.findall(word.lower()))) for word in match.keywords),
        severities=frozenset(match.severities),
    )


def _fit(entry: _Compiled, facts: Facts, words: frozenset[str]) -> Fit | None:
    if entry.severities and facts.severity not in entry.severities:
        return None
    reasons: list[str] = []
    score = 0
    if facts.service and facts.service.lower() in entry.services:
        score += 3
        reasons.append(f"service {facts.service}")
    if facts.alert:
        globs = [glob for glob, pattern in entry.alerts if pattern.match(facts.alert)]
        if globs:
            score += 3
            reasons.append(f"alert {globs[0]}")
    hits = [keyword for keyword, parts in entry.keywords if parts and parts <= words]
    if hits:
        score += len(hits)
        reasons.append(f"keyword{'s' if len(hits) > 1 else ''} {', '.join(hits)}")
    return Fit(entry.playbook, score, tuple(reasons)) if score else None
