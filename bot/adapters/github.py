"""GitHub Issues over its REST API (version 2022-11-28): file an issue for a follow-up, and find
one filed before by the marker its body carries (GitHub has no idempotency key, so a retry after
a crash looks before it files). The token never leaves this module's headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import WarroomError

API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 10
LOOKBACK_PAGES = 5  # a marker is looked for among the newest 500 issues with Warroom's labels


class TrackerFailed(WarroomError):
    """GitHub refused or could not be reached; `transient` when trying later may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Issue:
    """An issue as Warroom keeps it."""

    number: int
    url: str
    state: str  # open | closed


class GitHubIssues:
    """One repository's issues."""

    def __init__(self, api_url: str, token: str, repository: str) -> None:
        self.repository = repository
        self._base = f"{api_url.rstrip('/')}/repos/{repository}/issues"
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "warroom",
        }

    async def create(self, title: str, body: str, *, labels: list[str], assignees: list[str]) -> Issue:
        """File an issue (each call files a new one)."""
        fields: dict[str, Any] = {"title": title, "body": body, "labels": labels}
        if assignees:
            fields["assignees"] = assignees
        return _issue(await self._call("POST", self._base, json=fields))

    async def find(self, marker: str, *, labels: list[str]) -> Issue | None:
        """The issue whose body carries `marker`, among the newest ones with `labels`."""
        for page in range(1, LOOKBACK_PAGES + 1):
            params = {"state": "all", "labels": ",".join(labels), "per_page": 100, "page": page}
            found = await self._call("GET", self._base, params=params)
            for issue in found:
                if marker in (issue.get("body") or "") and "pull_request" not in issue:
                    return _issue(issue)
            if len(found) < 100:
                return None
        return None

    async def _call(self, method: str, url: str, **options: Any) -> Any:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
                response = await client.request(method, url, headers=self._headers, **options)
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise TrackerFailed(f"GitHub could not be reached ({reason})", transient=True) from None
        if response.status_code < 300:
            return response.json()
        message = _message(response)
        limited = response.status_code in (403, 429) and "rate limit" in message.lower()
        transient = response.status_code >= 500 or response.status_code == 408 or limited
        raise TrackerFailed(f"GitHub answered {response.status_code}: {message}", transient=transient)


def _issue(body: dict[str, Any]) -> Issue:
    return Issue(int(body["number"]), str(body["html_url"]), str(body.get("state") or "open"))


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no answer"
    message = str(body.get("message") or response.reason_phrase)
    problems = [f"{e.get('field')} {e.get('code')}" for e in body.get("errors") or [] if isinstance(e, dict)]
    return message + (f" ({', '.join(problems)})" if problems else "")
