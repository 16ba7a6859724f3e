"""What an executor is asked to run, the rules it runs under, and what it reports back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from bot.errors import WarroomError

Params = dict[str, str | int | bool]
Outcome = Literal["succeeded", "failed", "timed_out", "unknown"]


@dataclass(frozen=True)
class WebhookAction:
    """An HTTP call from a runbook; parameters travel only in the JSON body, under "parameters"."""

    method: str
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandAction:
    """A fixed argv from a runbook; each parameter is appended as `--name` and its value."""

    argv: tuple[str, ...]


@dataclass(frozen=True)
class ExecutorPolicy:
    """Where remediation may reach, and how long and how much it may take."""

    allowed_hosts: frozenset[str]  # "host" or "host:port", from WARROOM_REMEDIATION_HOSTS
    allow_http_hosts: frozenset[str] = frozenset()  # plain http allowed, e.g. the demo on 127.0.0.1
    allowlist: str = "the remediation allowlist (WARROOM_REMEDIATION_HOSTS)"  # named when a host is not in it
    connect_timeout: float = 3.0
    total_timeout: float = 30.0
    max_response_bytes: int = 64_000
    max_output_chars: int = 2_000
    transport: httpx.AsyncBaseTransport | None = None  # tests inject httpx.MockTransport


@dataclass(frozen=True)
class Preview:
    """Exactly what an action would send, for the approver to read; nothing was sent."""

    kind: Literal["webhook", "command"]
    description: str


@dataclass(frozen=True)
class Execution:
    """What happened when an action ran."""

    outcome: Outcome
    duration_ms: int
    excerpt: str  # capped, with secrets removed
    detail: str  # one sentence a responder understands


class RefusedTarget(WarroomError):
    """The action may not run as written; the message names the rule it breaks."""


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started`, a `time.monotonic()` reading."""
    return round((time.monotonic() - started) * 1000)
