"""What an issue tracker (GitHub Issues, Jira Cloud) is to Warroom: file an issue for a
follow-up, and find one an earlier, interrupted try filed, by the marker it carries (neither
tracker has an idempotency key). Each adapter writes the issue in its own format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.errors import WarroomError


class TrackerFailed(WarroomError):
    """The tracker refused or could not be reached; `transient` when trying later may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class NewIssue:
    """An issue to file for a follow-up."""

    title: str
    text: str  # the follow-up, as its author wrote it
    origin: str  # "Follow-up from INC-4: Checkout returns 500s (SEV2)."
    link: str | None  # the incident's page, when there is one to link to
    due_on: date | None
    labels: tuple[str, ...]
    marker: str  # unique to the ticket: how a later try finds this issue
    owner_login: str | None = None  # the owner in GitHub, when mapped
    owner_email: str | None = None  # the owner's address (Jira finds their account by it)


@dataclass(frozen=True)
class Issue:
    """A filed issue as Warroom keeps it."""

    ref: str  # "12" on GitHub, "OPS-12" on Jira
    url: str  # where people open it
    state: str  # open | closed


class Tracker(Protocol):
    """One tracker project (a GitHub repository, a Jira project)."""

    name: str  # GitHub | Jira
    kind: str  # github | jira: how tickets and webhooks name it
    project: str  # acme/incidents | OPS

    async def create(self, issue: NewIssue) -> Issue:
        """File the issue (each call files a new one)."""
        ...

    async def find(self, issue: NewIssue) -> Issue | None:
        """The issue an earlier try filed for `issue`, found by its marker, if any."""
        ...
