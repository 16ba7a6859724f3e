"""Jira Cloud over its REST API v3: file an issue for a follow-up (summary, description in
Atlassian Document Format with a link back to the incident, labels, due date, the owner as
assignee found by their e-mail address), and find one filed before by the marker it carries as
a label (JQL). Basic auth with the account's e-mail and API token; the token stays in headers."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from bot.adapters.trackers import Issue, NewIssue, TrackerFailed

TIMEOUT_SECONDS = 10


class JiraIssues:
    """One Jira project's issues (a `Tracker`)."""

    name, kind = "Jira", "jira"

    def __init__(self, site: str, email: str, token: str, project: str, issue_type: str) -> None:
        self.project = project
        self._site = site.rstrip("/")
        self._issue_type = issue_type
        login = base64.b64encode(f"{email}:{token}".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {login}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    async def create(self, issue: NewIssue) -> Issue:
        """File an issue (each call files a new one)."""
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "issuetype": {"name": self._issue_type},
            "summary": " ".join(issue.title.split())[:255],
            "description": _document(issue),
            "labels": [*issue.labels, issue.marker],
        }
        if issue.due_on:
            fields["duedate"] = issue.due_on.isoformat()
        if issue.owner_email and (account := await self._account(issue.owner_email)):
            fields["assignee"] = {"accountId": account}
        created = await self._call("POST", "/rest/api/3/issue", json={"fields": fields})
        return Issue(str(created["key"]), self._browse(str(created["key"])), "open")

    async def find(self, issue: NewIssue) -> Issue | None:
        """The issue labelled with the marker, if an earlier try filed it."""
        jql = f'project = {self.project} AND labels = "{issue.marker}"'
        found = await self._call("POST", "/rest/api/3/search/jql", json={"jql": jql, "fields": ["status"]})
        for filed in found.get("issues") or []:
            category = (((filed.get("fields") or {}).get("status") or {}).get("statusCategory") or {}).get(
                "key"
            )
            return Issue(
                str(filed["key"]), self._browse(str(filed["key"])), "closed" if category == "done" else "open"
            )
        return None

    async def _account(self, email: str) -> str | None:
        users = await self._call("GET", "/rest/api/3/user/search", params={"query": email})
        exact = [u for u in users if str(u.get("emailAddress") or "").lower() == email.lower()]
        return str(exact[0]["accountId"]) if exact else None

    def _browse(self, key: str) -> str:
        return f"{self._site}/browse/{key}"

    async def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
                response = await client.request(method, self._site + path, headers=self._headers, **options)
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise TrackerFailed(f"Jira could not be reached ({reason})", transient=True) from None
        if response.status_code < 300:
            return response.json()
        transient = response.status_code >= 500 or response.status_code in (408, 429)
        raise TrackerFailed(
            f"Jira answered {response.status_code}: {_message(response)}", transient=transient
        )


def _document(issue: NewIssue) -> dict[str, Any]:
    """The description in Atlassian Document Format: the follow-up, then where it came from."""

    def paragraph(*nodes: dict[str, Any]) -> dict[str, Any]:
        return {"type": "paragraph", "content": list(nodes)}

    def text(value: str, link: str | None = None) -> dict[str, Any]:
        node: dict[str, Any] = {"type": "text", "text": value}
        if link:
            node["marks"] = [{"type": "link", "attrs": {"href": link}}]
        return node

    content = [paragraph(text(line)) for line in issue.text.splitlines() if line.strip()]
    origin = [text(issue.origin)]
    if issue.link:
        origin += [text(" "), text("Open the incident", issue.link)]
    content.append(paragraph(*origin))
    if issue.due_on:
        content.append(paragraph(text(f"Due {issue.due_on.isoformat()}.")))
    return {"type": "doc", "version": 1, "content": content}


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    messages = [str(m) for m in body.get("errorMessages") or []]
    messages += [f"{field}: {problem}" for field, problem in (body.get("errors") or {}).items()]
    return "; ".join(messages) or response.reason_phrase
