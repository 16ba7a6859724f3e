"""A strict fake of Jira Cloud's REST API v3 (create, read and search issues, find people) and its
admin webhook on 127.0.0.1, for Warroom's follow-up tickets.

It refuses what Jira Cloud refuses, in Jira's words and ErrorCollection shape: wrong Basic
credentials, a body that is not JSON, a bad summary, a description that is not an Atlassian
Document, an unknown project, issue type or assignee, a label with a space, a bad due date, a field
the create screen lacks, and any JQL but Warroom's one query. Like Jira it has no idempotency key (so
Warroom must reconcile by label), pages searches with `nextPageToken`, fails on demand, and signs the
`jira:issue_updated` delivery it sends when a person moves an issue. Facts and sources: `jira.json`;
the checks Jira makes are in `jira_rules.py`, the projects, people and issues in `jira_issues.py`,
and the server, logs and deliveries it shares with the GitHub fake in `fake_tracker.py`."""

from __future__ import annotations

import base64
import copy
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response

from bot.simulator.fake_tracker import FakeTracker, TrackerRequest, delivery_body, sign
from bot.simulator.jira_issues import SEARCH_PAGE, SEARCH_PAGE_WITH_FIELDS, JiraIssues, Project
from bot.simulator.jira_rules import (
    API,
    CREATE_FIELDS,
    DEFAULTS,
    ERRORS,
    FACTS,
    INVALID_PAYLOAD,
    JQL,
    STATUSES,
    Refusal,
    message,
    read_object,
)

__all__ = [  # what this module has always offered, wherever each name now lives
    "API",
    "CREATE_FIELDS",
    "DEFAULTS",
    "DELIVERY_TIMEOUT",
    "ERRORS",
    "FACTS",
    "INVALID_PAYLOAD",
    "JQL",
    "SEARCH_PAGE",
    "SEARCH_PAGE_WITH_FIELDS",
    "STATUSES",
    "Delivery",
    "FakeJira",
    "JiraRequest",
    "Project",
    "Refusal",
    "sign",
]

DELIVERY_TIMEOUT = float(FACTS["webhooks"]["timeout"])


class JiraRequest(TrackerRequest):
    """One request the fake received; `authorized`: Basic credentials were the fake's email and API token."""


@dataclass(frozen=True)
class Delivery:
    """One `jira:issue_updated` delivery sent, and the receiver's HTTP status (0: no answer)."""

    id: str  # X-Atlassian-Webhook-Identifier, the same on a retry
    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    retry: int  # 0 for the first delivery, then its X-Atlassian-Webhook-Retry


class FakeJira(FakeTracker[JiraRequest, Delivery]):
    """A Jira Cloud site with project OPS (Task, Bug), three people and the Warroom bot's API token."""

    def __init__(self) -> None:
        self.email: str = DEFAULTS["bot"]["email"]
        # made at run time: a token-shaped literal in the repository would trip secret scanning
        self.api_token = "ATATT3xFfGF0" + secrets.token_urlsafe(135)  # 192 characters, like Atlassian's
        methods = ["GET", "POST", "PUT", "DELETE"]
        super().__init__(JiraRequest, name="jira", methods=methods, delivery_timeout=DELIVERY_TIMEOUT)
        self.reset()

    def reset(self) -> None:
        """Back to the start: project OPS, the default people, no issues, requests, failures or webhook."""
        with self._lock:
            self._forget()
            self._data = JiraIssues(self.base_url)
            self._hook: tuple[str, str] | None = None
        for person in [DEFAULTS["bot"], *DEFAULTS["users"]]:
            self.add_user(person["accountId"], person["email"], person["displayName"])
        project = DEFAULTS["project"]
        self.add_project(project["key"], project["name"], tuple(project["issue_types"]))

    def add_project(self, key: str, name: str, issue_types: tuple[str, ...] = ("Task", "Bug")) -> None:
        """A project whose issues may be of `issue_types` (site-wide types, made on first use)."""
        with self._lock:
            self._data.add_project(key, name, issue_types)

    def add_user(self, account_id: str, email: str, display_name: str) -> None:
        """An active Atlassian account who can be found and assigned."""
        with self._lock:
            self._data.add_user(account_id, email, display_name)

    def issues(self, project_key: str) -> list[dict[str, Any]]:
        """Copies of a project's issues as GET /issue serves them, oldest first."""
        with self._lock:
            return copy.deepcopy(self._data.projects[project_key.upper()].issues)

    def deliver_to(self, url: str, secret: str) -> None:
        """Send `jira:issue_updated` to `url`, signed with `secret` (an admin webhook; '' signs nothing)."""
        with self._lock:
            self._hook = (url, secret)

    def transition(self, key: str, to_status: str, by_account_id: str) -> int | None:
        """Move an issue to `to_status` ("To Do", "In Progress", "Done") as that person would in Jira
        and deliver `jira:issue_updated`: the receiver's status, None without a webhook."""
        if to_status not in STATUSES:
            raise ValueError(f"to_status must be one of {', '.join(STATUSES)}")
        with self._lock:
            payload = self._data.transition(key, to_status, by_account_id)
            hook = self._hook
        if hook is None:
            return None
        body = delivery_body(payload)
        headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": str(uuid.uuid4())}
        headers["X-Atlassian-Webhook-Flow"] = "Primary"
        if hook[1]:
            headers["X-Hub-Signature"] = sign(hook[1], body)
        return self._send(hook[0], headers, body, retry=0)

    def _again(self, sent: list[Delivery]) -> int:
        """Retry as Jira does: same body, signature and identifier, with X-Atlassian-Webhook-Retry."""
        headers = sent[0].headers | {"X-Atlassian-Webhook-Retry": str(len(sent))}
        return self._send(sent[0].url, headers, sent[0].body, retry=len(sent))

    def _send(self, url: str, headers: dict[str, str], body: bytes, *, retry: int) -> int:
        def logged(status: int) -> Delivery:
            return Delivery(headers["X-Atlassian-Webhook-Identifier"], url, headers, body, status, retry)

        return self._deliver(url, headers, body, logged)

    def _failed(self, status: int) -> Response:
        wait = {"Retry-After": "1"} if status == 429 else {}
        body = {"errorMessages": [HTTPStatus(status).phrase], "errors": {}}
        return JSONResponse(body, status_code=status, headers=wait)

    def _screen(self, call: JiraRequest, raw: bytes) -> Response | None:
        headers = call.headers
        if not call.authorized:
            seraph = FACTS["auth"]["bad_credentials"]["header"] if "authorization" in headers else {}
            refused = FACTS["auth"]["unauthenticated"]
            return Response(refused["body"], 401, seraph, media_type=refused["content_type"])
        if not re.search(r"application/json|application/\*|\*/\*", headers.get("accept", "*/*")):
            return Response(status_code=406)
        if raw and not headers.get("content-type", "").lower().startswith("application/json"):
            return Response(status_code=415)
        return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        try:
            email, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except ValueError:  # binascii.Error and UnicodeDecodeError
            return False
        right = hmac.compare_digest(token.encode(), self.api_token.encode())
        return scheme.lower() == "basic" and email.lower() == self.email.lower() and right

    def _route(self, call: JiraRequest, raw: bytes, url: str) -> Response:
        path = call.path.removeprefix(API)
        if call.method == "POST" and path == "/issue":
            issue = self._data.create(read_object(raw).get("fields", {}))
            return JSONResponse({"id": issue["id"], "key": issue["key"], "self": issue["self"]}, 201)
        if call.method == "GET" and re.fullmatch(r"/issue/[^/]+", path):
            found = self._data.find(path.removeprefix("/issue/"))
            if found is None:
                raise Refusal(404, ERRORS["issue_not_found"]["message"])
            return JSONResponse(found)
        if call.method == "GET" and path == "/user/search":
            return JSONResponse(self._data.find_users(call.query))
        if call.method == "POST" and path == "/search/jql":
            return JSONResponse(self._data.search(read_object(raw)))
        raise Refusal(404, message("unknown_path", url=url))
