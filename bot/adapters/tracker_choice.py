"""Which tracker a follow-up goes to: the one set up for its incident's service
(WARROOM_TICKETS_BY_SERVICE), else the default (WARROOM_TICKETS_DEFAULT, or the only one set up)."""

from __future__ import annotations

from bot.adapters.github import GitHubIssues
from bot.adapters.jira import JiraIssues
from bot.adapters.trackers import Tracker
from bot.config import Settings


class Trackers:
    """The trackers set up, by kind."""

    def __init__(self, trackers: list[Tracker], default: str | None, by_service: dict[str, str]) -> None:
        self._by_kind = {tracker.kind: tracker for tracker in trackers}
        self._default = default if default in self._by_kind else next(iter(self._by_kind), None)
        self._by_service = by_service

    @classmethod
    def from_settings(cls, settings: Settings) -> Trackers:
        """Every tracker whose settings are complete."""
        found: list[Tracker] = []
        if settings.github_token and settings.warroom_github_repository:
            token = settings.github_token.get_secret_value()
            found.append(GitHubIssues(settings.github_api_url, token, settings.warroom_github_repository))
        jira = (
            settings.jira_base_url,
            settings.jira_email,
            settings.jira_api_token,
            settings.warroom_jira_project,
        )
        if all(jira):
            assert settings.jira_base_url and settings.jira_email and settings.jira_api_token
            found.append(
                JiraIssues(
                    settings.jira_base_url,
                    settings.jira_email,
                    settings.jira_api_token.get_secret_value(),
                    settings.warroom_jira_project or "",
                    settings.warroom_jira_issue_type,
                )
            )
        return cls(found, settings.warroom_tickets_default, settings.warroom_tickets_by_service)

    def __bool__(self) -> bool:
        return bool(self._by_kind)

    def kind(self, kind: str) -> Tracker | None:
        """The tracker of this kind, if set up."""
        return self._by_kind.get(kind)

    def choose(self, service: str | None) -> Tracker | None:
        """The tracker for a follow-up of an incident on `service`."""
        chosen = self._by_service.get((service or "").lower(), self._default)
        return self._by_kind.get(chosen or "") or self._by_kind.get(self._default or "")
