"""GitHub Issues over its REST API (version 2022-11-28): file an issue for a follow-up (Markdown
body, labels, the owner as assignee), and find one filed before by the marker its body carries
in an HTML comment. The token never leaves this module's headers."""

from __future__ import annotations

from typing import Any

import httpx

from bot.adapters.trackers import Issue, NewIssue, TrackerFailed

API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 10
LOOKBACK_PAGES = 5  # a marker is looked for among the newest 500 issues with Warroom's labels


class GitHubIssues:
    """One repository's issues (a `Tracker`)."""

    name, kind = "GitHub", "github"

    def __init__(self, api_url: str, token: str, repository: str) -> None:
        self.project = repository
        self._base = f"{api_url.rstrip('/')}/repos/{repository}/issues"
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "warroom",
        }

    async def create(self, issue: NewIssue) -> Issue:
        """File an issue (each call files a new one)."""
        fields: dict[str, Any] = {"title": issue.title, "body": _body(issue), "labels": list(issue.labels)}
        if issue.owner_login:
            fields["assignees"] = [issue.owner_login]
        return _issue(await self._call("POST", self._base, json=fields))

    async def find(self, issue: NewIssue) -> Issue | None:
        """The issue whose body carries the marker, among the newest ones with its labels."""
        for page in range(1, LOOKBACK_PAGES + 1):
            params = {"state": "all", "labels": ",".join(issue.labels), "per_page": 100, "page": page}
            found = await self._call("GET", self._base, params=params)
            for filed in found:
                if issue.marker in (filed.get("body") or "") and "pull_request" not in filed:
                    return _issue(filed)
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


def _body(issue: NewIssue) -> str:
    origin = issue.origin
    if issue.link:
        origin += f" [Open the incident]({issue.link})"
    lines = [issue.text, "", origin]
    if issue.due_on:
        lines.append(f"Due {issue.due_on.isoformat()}.")
    return "\n".join([*lines, "", f"<!-- {issue.marker} -->"])


def _issue(body: dict[str, Any]) -> Issue:
    return Issue(str(body["number"]), str(body["html_url"]), str(body.get("state") or "open"))


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no answer"
    message = str(body.get("message") or response.reason_phrase)
    problems = [f"{e.get('field')} {e.get('code')}" for e in body.get("errors") or [] if isinstance(e, dict)]
    return message + (f" ({', '.join(problems)})" if problems else "")
