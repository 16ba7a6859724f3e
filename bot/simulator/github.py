"""A strict fake of GitHub's Issues REST API and its `issues` webhook on 127.0.0.1, for Warroom's
follow-up tickets.

It refuses what GitHub refuses, in GitHub's error shape (`message`, `documentation_url`, `status`):
no `User-Agent`, a missing or wrong token, an `X-GitHub-Api-Version` GitHub does not list, a body
that is not a JSON object, a missing title, an assignee who cannot be assigned, an unknown
repository or issue. Like GitHub it has no idempotency key (every POST files a new issue, so
Warroom must reconcile on its side), ignores fields it does not define and pages with `Link`
headers. It fails on demand, and when a person closes or reopens an issue it sends the signed
`issues` delivery GitHub would. The facts, each with its source, are in `github.json` beside this
module."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.http.runner import ServerThread

FACTS: dict[str, Any] = json.loads(Path(__file__).with_name("github.json").read_text(encoding="utf-8"))
VERSIONS: list[str] = FACTS["api_versions"]["supported"]
ENDPOINTS: dict[str, dict[str, Any]] = FACTS["endpoints"]
LIST_QUERY: dict[str, dict[str, Any]] = ENDPOINTS["issues/list-for-repo"]["query"]
OPERATIONS = {  # (method, path segments) under /repos/{owner}/{repo}/issues
    ("GET", 4): "issues/list-for-repo",
    ("POST", 4): "issues/create",
    ("GET", 5): "issues/get",
    ("PATCH", 5): "issues/update",
}
ROOT_DOC = "https://docs.github.com/rest"
BOT = FACTS["auth"]["token_owner"]["login"]
DEFAULT_REPOSITORY = "acme/incidents"
DEFAULT_COLLABORATORS = ("alice-gh", "bob-gh", "carol-gh")
CLOSE_REASONS = ("completed", "not_planned", "duplicate")
HOOKSHOT = "GitHub-Hookshot/7f3e2a1"
DELIVERY_TIMEOUT = 10.0  # GitHub's: a receiver slower than this has failed the delivery


@dataclass(frozen=True)
class GhRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any  # the parsed body, None when absent or not JSON
    authorized: bool  # the Authorization header carried the fake's token


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


@dataclass
class Repository:
    """A private repository in an organization, with its collaborators (who can be assigned)."""

    id: int
    owner: str
    name: str
    collaborators: dict[str, str]  # lower-cased login -> login
    labels: dict[str, dict[str, Any]]  # lower-cased name -> label
    issues: list[dict[str, Any]]
    touched: dict[int, int]  # issue number -> rank of its last change, to sort changes within a second

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Hook:
    """The repository webhook that gets `issues` events."""

    id: int
    url: str
    secret: str


class Refusal(Exception):
    """Answer with GitHub's error shape."""

    def __init__(
        self, status: int, message: str, doc: str = ROOT_DOC, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.doc, self.errors = status, message, doc, errors

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body |= {"documentation_url": self.doc, "status": str(self.status)}
        return JSONResponse(body, status_code=self.status)


class FakeGitHub:
    """GitHub's Issues API as Warroom uses it, with `acme/incidents` and three collaborators."""

    def __init__(self, *, web_url: str | None = None) -> None:
        self.token = _fine_grained_token()
        self.requests: list[GhRequest] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        self.server = ServerThread(
            Starlette(routes=[Route("/{path:path}", self._answer, methods=methods)]),
            lifespan="off",
            name="github",
        )
        self.web_url = (web_url or f"{self.base_url}/web").rstrip("/")
        self.reset()

    @property
    def base_url(self) -> str:
        """The REST root (what api.github.com is to GitHub)."""
        return self.server.url

    def start(self) -> None:
        """Serve."""
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def reset(self) -> None:
        """Back to the start: only `acme/incidents`, no issues, requests, failures or webhook."""
        with self._lock:
            self.requests.clear()
            self.deliveries.clear()
            self._serial = 1_000_000
            self._accounts: dict[str, int] = {}
            self._repositories: dict[str, Repository] = {}
            self._failures: list[int] = []
            self._hook: Hook | None = None
        self.add_repository(DEFAULT_REPOSITORY, collaborators=DEFAULT_COLLABORATORS)

    def add_repository(self, full_name: str, *, collaborators: tuple[str, ...] | list[str] = ()) -> None:
        """A private repository whose `collaborators` (and the token's owner) can be assigned."""
        owner, name = full_name.split("/")
        with self._lock:
            if full_name.lower() in self._repositories:
                raise ValueError(f"{full_name} exists")
            people = {login.lower(): login for login in [BOT, *collaborators]}
            repo = Repository(self._next(), owner, name, people, {}, [], {})
            for label in FACTS["default_labels"]:
                self._label(repo, label["name"], color=label["color"], description=label["description"])
            self._repositories[full_name.lower()] = repo

    def issues(self, repo: str) -> list[dict[str, Any]]:
        """Copies of a repository's issues, oldest first."""
        with self._lock:
            return copy.deepcopy(self._repositories[repo.lower()].issues)

    def fail(self, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` API requests with `status` in GitHub's error shape."""
        HTTPStatus(status)  # a status HTTP names, for the message
        with self._lock:
            self._failures += [status] * times

    def deliver_to(self, url: str, secret: str) -> None:
        """Send `issues` events to `url`, signed with `secret` (a repository webhook)."""
        with self._lock:
            self._hook = Hook(self._next(), url, secret)

    def close(self, repo: str, number: int, *, by: str = "alice-gh", reason: str = "completed") -> int | None:
        """Close an issue as `by` would on github.com and deliver `closed`: the receiver's status,
        None without a webhook."""
        if reason not in CLOSE_REASONS:
            raise ValueError(f"reason must be one of {', '.join(CLOSE_REASONS)}")
        return self._act(repo, number, "closed", by=by, reason=reason)

    def reopen(self, repo: str, number: int, *, by: str = "alice-gh") -> int | None:
        """Reopen an issue as `by` would on github.com and deliver `reopened` (as `close`)."""
        return self._act(repo, number, "open", by=by, reason=None)

    def redeliver(self, delivery_id: str) -> int:
        """Send a delivery again, same body and headers (its X-GitHub-Delivery too): the status."""
        with self._lock:
            first = next((d for d in self.deliveries if d.id == delivery_id), None)
        if first is None:
            raise KeyError(delivery_id)
        return self._send(first.id, first.action, first.url, first.headers, first.body, redelivery=True)

    def _act(self, full_name: str, number: int, state: str, *, by: str, reason: str | None) -> int | None:
        with self._lock:
            repo = self._repositories[full_name.lower()]
            person = repo.collaborators.get(by.lower())
            if person is None:
                raise ValueError(f"{by} has no access to change issues in {full_name}")
            issue = next((i for i in repo.issues if i["number"] == number), None)
            if issue is None:
                raise KeyError(f"{full_name}#{number}")
            if issue["state"] == state:
                raise ValueError(f"{full_name}#{number} is {state} already")
            self._set_state(repo, issue, state, reason, by=person)
            action = "closed" if state == "closed" else "reopened"
            payload = {"action": action, "issue": copy.deepcopy(issue)}
            payload |= {"repository": self._repository(repo), "organization": self._organization(repo)}
            payload["sender"] = self._user(person)
            hook = self._hook
        if hook is None:
            return None
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        delivery_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": HOOKSHOT,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Event": "issues",
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-ID": str(repo.id),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-Hub-Signature": "sha1=" + hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest(),
            "X-Hub-Signature-256": sign(hook.secret, body),
        }
        return self._send(delivery_id, action, hook.url, headers, body, redelivery=False)

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
        try:  # synchronously, from the caller's thread: the test sees the receiver's answer
            with httpx.Client(timeout=DELIVERY_TIMEOUT) as client:
                status = client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self.deliveries.append(Delivery(delivery_id, action, url, headers, body, status, redelivery))
        return status

    async def _answer(self, request: Request) -> Response:
        raw = await request.body()
        headers = dict(request.headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        call = GhRequest(request.method, request.url.path, query, headers, parsed, self._authorized(headers))
        with self._lock:
            self.requests.append(call)
            failure = self._failures.pop(0) if self._failures else None
        try:
            if failure is not None:
                raise Refusal(failure, HTTPStatus(failure).phrase)
            if not headers.get("user-agent"):
                refused = FACTS["user_agent"]
                return Response(refused["body"], status_code=refused["status"], media_type="text/html")
            self._check_headers(call)
            with self._lock:
                return self._route(call, raw)
        except Refusal as refusal:
            return refusal.response()

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

    def _route(self, call: GhRequest, raw: bytes) -> Response:
        parts = self._by_name(call.path.split("/")[1:])
        operation = OPERATIONS.get((call.method, len(parts))) if parts[:1] == ["repos"] else None
        if operation is None or parts[3] != "issues":
            raise Refusal(404, "Not Found")  # GitHub's answer to an unknown path or method too
        doc = ENDPOINTS[operation]["documentation_url"]
        repo = self._repositories.get(f"{parts[1]}/{parts[2]}".lower())
        if repo is None:
            raise Refusal(404, "Not Found", doc)
        if operation == "issues/list-for-repo":
            return self._list(repo, call, doc)
        if operation == "issues/create":
            issue = self._create(repo, _object(raw, doc), doc)
            return JSONResponse(issue, status_code=201, headers={"Location": issue["url"]})
        issue = self._issue(repo, parts[4], doc)
        if operation == "issues/update":
            issue = self._update(repo, issue, _object(raw, doc), doc)
        return JSONResponse(issue)

    def _by_name(self, parts: list[str]) -> list[str]:
        """`/repositories/{id}/issues`, where GitHub's Link headers point, as `/repos/{o}/{r}/issues`."""
        if len(parts) != 3 or parts[0] != "repositories" or parts[2] != "issues":
            return parts
        found = [r for r in self._repositories.values() if str(r.id) == parts[1]]
        return ["repos", found[0].owner, found[0].name, "issues"] if found else []

    def _issue(self, repo: Repository, number: str, doc: str) -> dict[str, Any]:
        found = [i for i in repo.issues if number.isdigit() and i["number"] == int(number)]
        if not found:
            raise Refusal(404, "Not Found", doc)
        return found[0]

    def _create(self, repo: Repository, body: dict[str, Any], doc: str) -> dict[str, Any]:
        title = _title(body.get("title"), doc)
        text = _text(body.get("body"), doc)
        labels = self._labels(repo, body.get("labels", []), doc)
        assignees = self._assignees(repo, body, doc)
        _none_such(body, ("milestone", "type"), doc)
        number, issue_id, now = len(repo.issues) + 1, self._next(), _now()
        api = f"{self.base_url}/repos/{repo.full_name}/issues/{number}"
        issue = {
            "id": issue_id,
            "node_id": _node_id("Issue", issue_id),
            "url": api,
            "repository_url": f"{self.base_url}/repos/{repo.full_name}",
            "labels_url": api + "/labels{/name}",
            "comments_url": api + "/comments",
            "events_url": api + "/events",
            "html_url": f"{self.web_url}/{repo.full_name}/issues/{number}",
            "number": number,
            "state": "open",
            "state_reason": None,
            "title": title,
            "body": text,
            "user": self._user(BOT),
            "labels": labels,
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": None,
            "closed_by": None,
            "created_at": now,
            "updated_at": now,
            "author_association": "COLLABORATOR",
            "type": None,
        }
        repo.issues.append(issue)
        repo.touched[number] = self._next()
        return issue

    def _update(
        self, repo: Repository, issue: dict[str, Any], body: dict[str, Any], doc: str
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if body.get("title") is not None:
            changes["title"] = _title(body["title"], doc)
        if "body" in body:
            changes["body"] = _text(body["body"], doc)
        if "labels" in body:
            changes["labels"] = self._labels(repo, body["labels"], doc)
        if "assignees" in body or body.get("assignee") is not None:
            changes["assignees"] = self._assignees(repo, body, doc)
            changes["assignee"] = changes["assignees"][0] if changes["assignees"] else None
        _none_such(body, ("milestone", "type"), doc)
        state, reason = body.get("state"), body.get("state_reason")
        if state is not None and state not in ("open", "closed"):
            raise _invalid("state", state, doc)
        if reason is not None and reason not in (*CLOSE_REASONS, "reopened"):
            raise _invalid("state_reason", reason, doc)
        issue.update(changes, updated_at=_now())
        repo.touched[issue["number"]] = self._next()
        if state is not None and state != issue["state"]:  # state_reason alone changes nothing
            self._set_state(repo, issue, state, reason, by=BOT)
        return issue

    def _set_state(
        self, repo: Repository, issue: dict[str, Any], state: str, reason: str | None, *, by: str
    ) -> None:
        closed: dict[str, Any]
        if state == "closed":
            closed = {"state_reason": reason or "completed", "closed_at": _now(), "closed_by": self._user(by)}
        else:
            closed = {"state_reason": "reopened", "closed_at": None, "closed_by": None}
        issue.update(closed, state=state, updated_at=_now())
        repo.touched[issue["number"]] = self._next()

    def _list(self, repo: Repository, call: GhRequest, doc: str) -> Response:
        one = {key: values[-1] for key, values in call.query.items()}
        state, sort, direction = (_choice(one, key, doc) for key in ("state", "sort", "direction"))
        since = _since(one["since"], doc) if "since" in one else None
        found = [i for i in repo.issues if state in ("all", i["state"]) and _matches(i, one)]
        found = [i for i in found if since is None or datetime.fromisoformat(i["updated_at"]) >= since]
        order: dict[str, Callable[[dict[str, Any]], tuple[int, ...]]] = {
            "created": lambda i: (i["number"],),
            "updated": lambda i: (repo.touched[i["number"]],),
            "comments": lambda i: (i["comments"], i["number"]),
        }
        found.sort(key=order[sort], reverse=direction == "desc")
        per_page, page = _count(one, "per_page"), _count(one, "page")
        per_page = min(per_page, LIST_QUERY["per_page"]["max"])
        last = max(1, math.ceil(len(found) / per_page))
        link = self._link(repo, call, page, last)
        headers = {"Link": link} if link else {}
        return JSONResponse(found[(page - 1) * per_page : page * per_page], headers=headers)

    def _link(self, repo: Repository, call: GhRequest, page: int, last: int) -> str:
        if last == 1 and page == 1:
            return ""
        kept = [(key, value) for key, values in call.query.items() if key != "page" for value in values]
        base = f"{self.base_url}/repositories/{repo.id}/issues"
        pages = {
            "prev": page - 1 if page > 1 else None,
            "next": page + 1 if page < last else None,
            "last": last if page < last else None,
            "first": 1 if page > 1 else None,
        }
        links = [(rel, f"<{base}?{urlencode([*kept, ('page', n)])}>") for rel, n in pages.items() if n]
        return ", ".join(f'{url}; rel="{rel}"' for rel, url in links)

    def _labels(self, repo: Repository, given: Any, doc: str) -> list[dict[str, Any]]:
        names = [
            item.get("name") if isinstance(item, dict) else item for item in _array(given, "labels", doc)
        ]
        if not all(isinstance(name, str) and name.strip() for name in names):
            raise _wrong_type("labels", given, "an array of label names or objects with a name", doc)
        labels = {label["id"]: label for label in (self._label(repo, str(name)) for name in names)}
        return copy.deepcopy(list(labels.values()))

    def _label(
        self, repo: Repository, name: str, *, color: str = "", description: str | None = None
    ) -> dict[str, Any]:
        """The repository's label `name`, created (grey, as GitHub does) when it has none."""
        if name.lower() not in repo.labels:
            label_id = self._next()
            repo.labels[name.lower()] = {
                "id": label_id,
                "node_id": _node_id("Label", label_id),
                "url": f"{self.base_url}/repos/{repo.full_name}/labels/{quote(name)}",
                "name": name,
                "description": description,
                "color": color or FACTS["created_label_color"],
                "default": bool(color),
            }
        return repo.labels[name.lower()]

    def _assignees(self, repo: Repository, body: dict[str, Any], doc: str) -> list[dict[str, Any]]:
        given = [("assignees", login) for login in _array(body.get("assignees", []), "assignees", doc)]
        if body.get("assignee") is not None:
            given.append(("assignee", body["assignee"]))
        if not all(isinstance(login, str) for _, login in given):
            raise _wrong_type("assignees", body.get("assignees"), "an array of logins", doc)
        unknown = [(field, login) for field, login in given if login.lower() not in repo.collaborators]
        if unknown:
            errors = [
                {"value": login, "resource": "Issue", "field": field, "code": "invalid"}
                for field, login in unknown
            ]
            raise Refusal(422, "Validation Failed", doc, errors)
        logins = dict.fromkeys(repo.collaborators[login.lower()] for _, login in given)
        return [self._user(login) for login in logins]

    def _user(self, login: str) -> dict[str, Any]:
        kind = "Bot" if login == BOT else "User"
        account_id = self._account(login)
        return {
            "login": login,
            "id": account_id,
            "node_id": _node_id(kind, account_id),
            "url": f"{self.base_url}/users/{login}",
            "html_url": f"{self.web_url}/{login}",
            "type": kind,
            "site_admin": False,
        }

    def _organization(self, repo: Repository) -> dict[str, Any]:
        org_id = self._account(repo.owner)
        url = f"{self.base_url}/orgs/{repo.owner}"
        return {"login": repo.owner, "id": org_id, "node_id": _node_id("Organization", org_id), "url": url}

    def _repository(self, repo: Repository) -> dict[str, Any]:
        """The repository as a webhook payload carries it (the fields a receiver reads)."""
        owner = self._organization(repo) | {
            "type": "Organization",
            "html_url": f"{self.web_url}/{repo.owner}",
        }
        api = f"{self.base_url}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": _node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": True,
            "owner": owner,
            "html_url": f"{self.web_url}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": api,
            "issues_url": api + "/issues{/number}",
            "has_issues": True,
            "default_branch": "main",
            "visibility": "private",
        }

    def _account(self, login: str) -> int:
        if login.lower() not in self._accounts:
            self._accounts[login.lower()] = self._next()
        return self._accounts[login.lower()]

    def _next(self) -> int:
        self._serial += 1
        return self._serial


def sign(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` for `body`: its HMAC-SHA256 with `secret`, in hex, after `sha256=`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _fine_grained_token() -> str:
    # made at run time: a token-shaped literal in the repository would trip secret scanning
    alphabet = string.ascii_letters + string.digits
    first = "11" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))
    return f"github_pat_{first}_{''.join(secrets.choice(alphabet) for _ in range(59))}"


def _object(raw: bytes, doc: str) -> dict[str, Any]:
    """A request body as GitHub reads it, or its refusal."""
    if not raw.strip():
        raise _wrong_type("", None, "an object", doc, prefix="links/0/schema")
    try:
        body = json.loads(raw)
    except ValueError:
        raise Refusal(400, FACTS["errors"]["problems_parsing_json"]["message"], doc) from None
    if not isinstance(body, dict):
        raise Refusal(400, FACTS["errors"]["body_not_object"]["message"], doc)
    return body


def _title(value: Any, doc: str) -> str:
    if value is None or value == "":
        error = {"resource": "Issue", "code": "missing_field", "field": "title"}
        raise Refusal(422, "Validation Failed", doc, [error])
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _wrong_type("title", value, "a string or integer", doc)
    return str(value)


def _text(value: Any, doc: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type("body", value, "a string", doc)
    return value


def _array(value: Any, field: str, doc: str) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong_type(field, value, "an array", doc)
    return value


def _none_such(body: dict[str, Any], fields: tuple[str, ...], doc: str) -> None:
    """Refuse a milestone or issue type: the fake's repositories and organizations define none."""
    for field in fields:
        if body.get(field) is not None:
            raise _invalid(field, body[field], doc)


def _invalid(field: str, value: Any, doc: str) -> Refusal:
    error = {"value": value, "resource": "Issue", "field": field, "code": "invalid"}
    return Refusal(422, "Validation Failed", doc, [error])


def _wrong_type(field: str, value: Any, kinds: str, doc: str, *, prefix: str = "") -> Refusal:
    shown = "nil" if value is None else json.dumps(value)
    detail = f"For '{prefix or 'properties/' + field}', {shown} is not {kinds}."
    return Refusal(422, FACTS["errors"]["invalid_request"]["message"].format(detail=detail), doc)


def _choice(one: dict[str, str], key: str, doc: str) -> str:
    value = str(one.get(key, LIST_QUERY[key]["default"]))
    if value not in LIST_QUERY[key]["enum"]:
        raise _invalid(key, value, doc)
    return value


def _since(value: str, doc: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid("since", value, doc) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(one: dict[str, str], key: str) -> int:
    value = one.get(key, "")
    return int(value) if value.isdigit() and int(value) > 0 else int(LIST_QUERY[key]["default"])


def _matches(issue: dict[str, Any], one: dict[str, str]) -> bool:
    """The list filters other than state and since."""
    labels = {label["name"].lower() for label in issue["labels"]}
    wanted = {name.strip().lower() for name in one.get("labels", "").split(",") if name.strip()}
    mentioned = one.get("mentioned")
    checks = [
        wanted <= labels,
        one.get("creator", "").lower() in ("", issue["user"]["login"].lower()),
        _assigned(one.get("assignee", ""), {user["login"].lower() for user in issue["assignees"]}),
        one.get("milestone", "none") == "none",  # the fake has no milestones: '*' or a number finds none
        one.get("type", "none") == "none",
        mentioned is None or f"@{mentioned}".lower() in (issue["body"] or "").lower(),
    ]
    return all(checks)


def _assigned(wanted: str, assignees: set[str]) -> bool:
    """`assignee` as GitHub reads it: a login, '*' (anyone) or 'none'."""
    if wanted in ("", "*", "none"):
        return wanted == "" or (wanted == "*") == bool(assignees)
    return wanted.lower() in assignees


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global id: base64 of '0{len(kind)}:{kind}{id}' (MDU6SXNzdWUx is '05:Issue1')."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
