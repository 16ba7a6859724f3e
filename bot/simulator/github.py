"""A strict fake of GitHub's Issues REST API and its `issues` webhook on 127.0.0.1, for Warroom's
follow-up tickets.

It refuses what GitHub refuses, in GitHub's error shape (`message`, `documentation_url`, `status`):
no `User-Agent`, a missing or wrong token, an `X-GitHub-Api-Version` GitHub does not list, a body
that is not a JSON object, a missing title, an assignee who cannot be assigned, an unknown
repository or issue. Like GitHub it has no idempotency key (every POST files a new issue, so
Warroom must reconcile on its side), ignores fields it does not define and pages with `Link`
headers. It fails on demand, and when a person closes or reopens an issue it sends the signed
`issues` delivery GitHub would. The facts, each with its source, are in `github.json` beside this
module; the checks GitHub makes are in `github_rules.py`, the repositories and issues in
`github_issues.py`, and the server, logs and deliveries it shares with the Jira fake in
`fake_tracker.py`."""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response

from bot.simulator.fake_tracker import FakeTracker, TrackerRequest, delivery_body, sign
from bot.simulator.github_issues import BOT, GitHubIssues, Repository
from bot.simulator.github_rules import (
    CLOSE_REASONS,
    ENDPOINTS,
    FACTS,
    LIST_QUERY,
    ROOT_DOC,
    VERSIONS,
    Refusal,
    matches,
    page_links,
    read_choice,
    read_count,
    read_object,
    read_since,
)

__all__ = [  # what this module has always offered, wherever each name now lives
    "BOT",
    "CLOSE_REASONS",
    "DEFAULT_COLLABORATORS",
    "DEFAULT_REPOSITORY",
    "DELIVERY_TIMEOUT",
    "ENDPOINTS",
    "FACTS",
    "HOOKSHOT",
    "LIST_QUERY",
    "OPERATIONS",
    "ROOT_DOC",
    "VERSIONS",
    "Delivery",
    "FakeGitHub",
    "GhRequest",
    "Hook",
    "Refusal",
    "Repository",
    "sign",
]

OPERATIONS = {  # (method, path segments) under /repos/{owner}/{repo}/issues
    ("GET", 4): "issues/list-for-repo",
    ("POST", 4): "issues/create",
    ("GET", 5): "issues/get",
    ("PATCH", 5): "issues/update",
}
DEFAULT_REPOSITORY = "acme/incidents"
DEFAULT_COLLABORATORS = ("alice-gh", "bob-gh", "carol-gh")
HOOKSHOT = "GitHub-Hookshot/7f3e2a1"
DELIVERY_TIMEOUT = 10.0  # GitHub's: a receiver slower than this has failed the delivery


class GhRequest(TrackerRequest):
    """One request the fake received; `authorized`: the Authorization header carried the fake's token."""


@dataclass(frozen=True)
class Delivery:
    """One `issues` delivery sent, and the receiver's HTTP status (0: no answer)."""

    id: str  # X-GitHub-Delivery, the same on a redelivery
    action: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    redelivery: bool


@dataclass(frozen=True)
class Hook:
    """The repository webhook that gets `issues` events."""

    id: int
    url: str
    secret: str


class FakeGitHub(FakeTracker[GhRequest, Delivery]):
    """GitHub's Issues API as Warroom uses it, with `acme/incidents` and three collaborators."""

    def __init__(self, *, web_url: str | None = None) -> None:
        self.token = _fine_grained_token()
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        super().__init__(GhRequest, name="github", methods=methods, delivery_timeout=DELIVERY_TIMEOUT)
        self.web_url = (web_url or f"{self.base_url}/web").rstrip("/")
        self.reset()

    def reset(self) -> None:
        """Back to the start: only `acme/incidents`, no issues, requests, failures or webhook."""
        with self._lock:
            self._forget()
            self._data = GitHubIssues(self.base_url, self.web_url)
            self._hook: Hook | None = None
        self.add_repository(DEFAULT_REPOSITORY, collaborators=DEFAULT_COLLABORATORS)

    def add_repository(self, full_name: str, *, collaborators: tuple[str, ...] | list[str] = ()) -> None:
        """A private repository whose `collaborators` (and the token's owner) can be assigned."""
        with self._lock:
            self._data.add_repository(full_name, collaborators)

    def issues(self, repo: str) -> list[dict[str, Any]]:
        """Copies of a repository's issues, oldest first."""
        with self._lock:
            return copy.deepcopy(self._data.repositories[repo.lower()].issues)

    def deliver_to(self, url: str, secret: str) -> None:
        """Send `issues` events to `url`, signed with `secret` (a repository webhook)."""
        with self._lock:
            self._hook = Hook(self._data.new_id(), url, secret)

    def close(self, repo: str, number: int, *, by: str = "alice-gh", reason: str = "completed") -> int | None:
        """Close an issue as `by` would on github.com and deliver `closed`: the receiver's status,
        None without a webhook."""
        if reason not in CLOSE_REASONS:
            raise ValueError(f"reason must be one of {', '.join(CLOSE_REASONS)}")
        return self._act(repo, number, "closed", by=by, reason=reason)

    def reopen(self, repo: str, number: int, *, by: str = "alice-gh") -> int | None:
        """Reopen an issue as `by` would on github.com and deliver `reopened` (as `close`)."""
        return self._act(repo, number, "open", by=by, reason=None)

    def _act(self, full_name: str, number: int, state: str, *, by: str, reason: str | None) -> int | None:
        with self._lock:
            payload = self._data.act(full_name, number, state, by=by, reason=reason)
            hook = self._hook
        if hook is None:
            return None
        body = delivery_body(payload)
        delivery_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": HOOKSHOT,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Event": "issues",
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-ID": str(payload["repository"]["id"]),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-Hub-Signature": "sha1=" + hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest(),
            "X-Hub-Signature-256": sign(hook.secret, body),
        }
        return self._send(delivery_id, payload["action"], hook.url, headers, body, redelivery=False)

    def _again(self, sent: list[Delivery]) -> int:
        """The first sending again, same body and headers (its X-GitHub-Delivery too)."""
        first = sent[0]
        return self._send(first.id, first.action, first.url, first.headers, first.body, redelivery=True)

    def _send(
        self,
        delivery_id: str,
        action: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        redelivery: bool,
    ) -> int:
        def logged(status: int) -> Delivery:
            return Delivery(delivery_id, action, url, headers, body, status, redelivery)

        return self._deliver(url, headers, body, logged)

    def _failed(self, status: int) -> Response:
        return Refusal(status, HTTPStatus(status).phrase).response()

    def _screen(self, call: GhRequest, raw: bytes) -> Response | None:
        if not call.headers.get("user-agent"):
            refused = FACTS["user_agent"]
            return Response(refused["body"], status_code=refused["status"], media_type="text/html")
        self._check_headers(call)
        return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        right = hmac.compare_digest(value.strip().encode(), self.token.encode())
        return scheme.lower() in ("bearer", "token") and right

    def _check_headers(self, call: GhRequest) -> None:
        if "authorization" not in call.headers and call.method == "GET":
            raise Refusal(404, "Not Found")  # a private repository: GitHub does not confirm it exists
        if "authorization" not in call.headers:
            raise Refusal(401, FACTS["errors"]["requires_authentication"]["message"])
        if not call.authorized:
            raise Refusal(401, FACTS["errors"]["bad_credentials"]["message"])
        version = call.headers.get("x-github-api-version")
        if version is not None and version not in VERSIONS:
            newest, *older = sorted(VERSIONS, reverse=True)
            listed = ", ".join([f'"{newest}" (most recent)', *(f'"{v}"' for v in older)])
            message = FACTS["api_versions"]["unsupported"]["message"].format(
                version=version, supported=listed
            )
            raise Refusal(400, message)

    def _route(self, call: GhRequest, raw: bytes, url: str) -> Response:
        parts = self._by_name(call.path.split("/")[1:])
        operation = OPERATIONS.get((call.method, len(parts))) if parts[:1] == ["repos"] else None
        if operation is None or parts[3] != "issues":
            raise Refusal(404, "Not Found")  # GitHub's answer to an unknown path or method too
        doc = ENDPOINTS[operation]["documentation_url"]
        repo = self._data.repositories.get(f"{parts[1]}/{parts[2]}".lower())
        if repo is None:
            raise Refusal(404, "Not Found", doc)
        if operation == "issues/list-for-repo":
            return self._list(repo, call, doc)
        if operation == "issues/create":
            issue = self._data.create(repo, read_object(raw, doc), doc)
            return JSONResponse(issue, status_code=201, headers={"Location": issue["url"]})
        issue = self._data.issue(repo, parts[4], doc)
        if operation == "issues/update":
            issue = self._data.update(repo, issue, read_object(raw, doc), doc)
        return JSONResponse(issue)

    def _by_name(self, parts: list[str]) -> list[str]:
        """`/repositories/{id}/issues`, where GitHub's Link headers point, as `/repos/{o}/{r}/issues`."""
        if len(parts) != 3 or parts[0] != "repositories" or parts[2] != "issues":
            return parts
        found = self._data.by_id(parts[1])
        return ["repos", found.owner, found.name, "issues"] if found else []

    def _list(self, repo: Repository, call: GhRequest, doc: str) -> Response:
        one = {key: values[-1] for key, values in call.query.items()}
        state, sort, direction = (read_choice(one, key, doc) for key in ("state", "sort", "direction"))
        since = read_since(one["since"], doc) if "since" in one else None
        found = [i for i in repo.issues if state in ("all", i["state"]) and matches(i, one)]
        found = [i for i in found if since is None or datetime.fromisoformat(i["updated_at"]) >= since]
        order: dict[str, Callable[[dict[str, Any]], tuple[int, ...]]] = {
            "created": lambda i: (i["number"],),
            "updated": lambda i: (repo.touched[i["number"]],),
            "comments": lambda i: (i["comments"], i["number"]),
        }
        found.sort(key=order[sort], reverse=direction == "desc")
        per_page, page = read_count(one, "per_page"), read_count(one, "page")
        per_page = min(per_page, LIST_QUERY["per_page"]["max"])
        last = max(1, math.ceil(len(found) / per_page))
        link = page_links(f"{self.base_url}/repositories/{repo.id}/issues", call.query, page, last)
        headers = {"Link": link} if link else {}
        return JSONResponse(found[(page - 1) * per_page : page * per_page], headers=headers)


def _fine_grained_token() -> str:
    # made at run time: a token-shaped literal in the repository would trip secret scanning
    alphabet = string.ascii_letters + string.digits
    first = "11" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))
    return f"github_pat_{first}_{''.join(secrets.choice(alphabet) for _ in range(59))}"
