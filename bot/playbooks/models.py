"""The shape of a runbook's front matter, validated by pydantic."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
SLACK_ID = re.compile(r"^[USW][A-Z0-9]{2,}$")
ROLES = ("ic", "commander", "comms", "scribe", "ops")


class Risk(StrEnum):
    """How much harm a wrong press can do."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Strict(BaseModel):
    """Unknown keys are mistakes (a typo would silently drop a safety rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(Strict):
    """One typed parameter an action accepts."""

    type: Literal["string", "integer", "boolean"] = "string"
    description: str = ""
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int = Field(default=100, ge=1, le=1000)
    required: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class Action(Strict):
    """A remediation a runbook offers, and the rules for running it."""

    id: Slug
    label: str = Field(min_length=1, max_length=75)
    kind: Literal["webhook", "command"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    argv: tuple[str, ...] | None = None
    params: dict[Slug, Parameter] = Field(default_factory=dict)
    risk: Risk
    requesters: tuple[str, ...] = ("ic",)
    approvers: tuple[str, ...] = ("ic",)
    min_approvals: int | None = Field(default=None, ge=0, le=5)
    timeout: int = Field(default=60, ge=1, le=3600)
    cooldown: int = Field(default=0, ge=0, le=86400)
    max_runs_per_hour: int = Field(default=6, ge=1, le=1000)
    dry_run: bool = True
    idempotent: bool = False
    mode: Literal["suggest", "auto"] = "suggest"
    trial_runs: int = Field(default=5, ge=1, le=100)  # automatic successes before its alerts go quiet
    target: str = Field(min_length=1, max_length=200)

    @field_validator("argv", mode="before")
    @classmethod
    def _no_shell_strings(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("argv must be a list of strings, never a shell command line")
        return value

    @field_validator("requesters", "approvers")
    @classmethod
    def _people(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if value not in ROLES and not SLACK_ID.match(value):
                raise ValueError(
                    f"{value!r} is neither a role ({', '.join(ROLES)}) nor a Slack user or group id"
                )
        return values

    @field_validator("target")
    @classmethod
    def _not_everything(cls, value: str) -> str:
        if value.strip().lower() in ("all", "*", "everything"):
            raise ValueError("a target must name what it acts on, not everything")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Action:
        if self.kind == "webhook" and not (self.url or "").startswith(("https://", "http://")):
            raise ValueError("a webhook action needs an http(s) url")
        if self.kind == "command" and not self.argv:
            raise ValueError("a command action needs argv, a list of strings (never a shell string)")
        if self.mode == "auto" and self.risk is not Risk.LOW:
            raise ValueError("only a low-risk action may run in auto mode")
        if self.risk is not Risk.LOW and self.required_approvals < 1:
            raise ValueError("medium and high risk actions need at least one approval")
        return self

    @property
    def required_approvals(self) -> int:
        """Approvals needed: as set, else none for low risk and one otherwise."""
        if self.min_approvals is not None:
            return self.min_approvals
        return 0 if self.risk is Risk.LOW else 1


class Match(Strict):
    """What makes a runbook fit an incident."""

    services: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()

    @field_validator("severities", mode="before")
    @classmethod
    def _severities(cls, values: Any) -> Any:
        if isinstance(values, list | tuple):
            return [
                int(str(v).lower().removeprefix("sev")) if str(v).lower().startswith("sev") else v
                for v in values
            ]
        return values

    @field_validator("severities")
    @classmethod
    def _in_range(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= value <= 4 for value in values):
            raise ValueError("severities are 1 to 4 (or sev1 to sev4)")
        return values


class FrontMatter(Strict):
    """A runbook's front matter."""

    id: Slug
    title: str = Field(min_length=1, max_length=150)
    match: Match = Field(default_factory=Match)
    actions: tuple[Action, ...] = ()

    @model_validator(mode="after")
    def _unique_actions(self) -> FrontMatter:
        ids = [action.id for action in self.actions]
        if len(ids) != len(set(ids)):
            raise ValueError("action ids must be unique within a runbook")
        return self


class Playbook(BaseModel):
    """A loaded runbook: front matter, its Markdown steps and where it came from."""

    model_config = ConfigDict(frozen=True)

    meta: FrontMatter
    steps: str
    path: str

    @property
    def id(self) -> str:
        """The runbook's id."""
        return self.meta.id
