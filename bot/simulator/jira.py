"""A strict fake of Jira Cloud's REST API v3 (create, read and search issues, find people) and its
admin webhook on 127.0.0.1, for Warroom's follow-up tickets.

It refuses what Jira Cloud refuses, in Jira's words and ErrorCollection shape: wrong Basic
credentials, a body that is not JSON, a bad summary, a description that is not an Atlassian
Document, an unknown project, issue type or assignee, a label with a space, a bad due date, a field
the create screen lacks, and any JQL but Warroom's one query. Like Jira it has no idempotency key (so
Warroom must reconcile by label), pages searches with `nextPageToken`, fails on demand, and signs the
`jira:issue_updated` delivery it sends when a person moves an issue. Facts and sources: `jira.json`."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.http.runner import ServerThread

FACTS: dict[str, Any] = json.loads(Path(__file__).with_name("jira.json").read_text(encoding="utf-8"))
ERRORS: dict[str, Any] = FACTS["errors"]
STATUSES: dict[str, dict[str, Any]] = {k: v for k, v in FACTS["statuses"].items() if k != "source"}
DEFAULTS: dict[str, Any] = FACTS["defaults"]
INVALID_PAYLOAD: dict[str, Any] = FACTS["media_types"]["invalid_payload"]["body"]
API = "/rest/api/3"
CREATE_FIELDS = ("project", "issuetype", "summary", "description", "labels", "duedate", "assignee")
SEARCH_PAGE, SEARCH_PAGE_WITH_FIELDS = 5000, 100
_VALUE = r'(?:"(?P<{0}q>[^"\\]*)"|(?P<{0}b>[A-Za-z0-9_.\-]+))'
JQL = re.compile(rf"\s*project\s*=\s*{_VALUE.format('p')}\s+and\s+labels\s*=\s*{_VALUE.format('l')}\s*", re.I)
DELIVERY_TIMEOUT = float(FACTS["webhooks"]["timeout"])


@dataclass(frozen=True)
class JiraRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any  # the parsed body, None when absent or not JSON
    authorized: bool  # Basic credentials were the fake's email and API token


@dataclass(frozen=True)
class Delivery:
    """One `jira:issue_updated` delivery sent, and the receiver's HTTP status (0: no answer)."""

    id: str  # X-Atlassian-Webhook-Identifier, the same on a retry
    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    retry: int  # 0 for the first delivery, then its X-Atlassian-Webhook-Retry


@dataclass
class Project:
    """A project, the issue types it allows (lower-cased name -> {id, name}) and its issues."""

    id: str
    key: str
    name: str
    issue_types: dict[str, dict[str, str]]
    issues: list[dict[str, Any]]  # as GET /issue serves them, oldest first


class Refusal(Exception):
    """Answer with Jira's ErrorCollection, or with exactly `body` when one is given."""

    def __init__(self, code: int, *messages: str, errors: dict[str, str] | None = None, **body: Any) -> None:
        super().__init__(code, messages)
        self.status = code
        self.body = body or {"errorMessages": list(messages), "errors": errors or {}}

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status)


class FakeJira:
    """A Jira Cloud site with project OPS (Task, Bug), three people and the Warroom bot's API token."""

    def __init__(self) -> None:
        self.email: str = DEFAULTS["bot"]["email"]
        # made at run time: a token-shaped literal in the repository would trip secret scanning
        self.api_token = "ATATT3xFfGF0" + secrets.token_urlsafe(135)  # 192 characters, like Atlassian's
        self.requests: list[JiraRequest] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        route = Route("/{path:path}", self._answer, methods=["GET", "POST", "PUT", "DELETE"])
        self.server = ServerThread(Starlette(routes=[route]), lifespan="off", name="jira")
        self.reset()

    @property
    def base_url(self) -> str:
        """The site (what https://acme.atlassian.net is to Jira Cloud)."""
        return self.server.url

    def start(self) -> None:
        """Serve."""
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def reset(self) -> None:
        """Back to the start: project OPS, the default people, no issues, requests, failures or webhook."""
        with self._lock:
            self.requests.clear()
            self.deliveries.clear()
            self._serial = 10000
            self._projects: dict[str, Project] = {}
            self._types: dict[str, dict[str, str]] = {}
            self._users: dict[str, dict[str, Any]] = {}
            self._pages: dict[str, tuple[str, int]] = {}
            self._failures: list[int] = []
            self._hook: tuple[str, str] | None = None
        for person in [DEFAULTS["bot"], *DEFAULTS["users"]]:
            self.add_user(person["accountId"], person["email"], person["displayName"])
        project = DEFAULTS["project"]
        self.add_project(project["key"], project["name"], tuple(project["issue_types"]))

    def add_project(self, key: str, name: str, issue_types: tuple[str, ...] = ("Task", "Bug")) -> None:
        """A project whose issues may be of `issue_types` (site-wide types, made on first use)."""
        with self._lock:
            if key.upper() in self._projects:
                raise ValueError(f"{key} exists")
            for kind in issue_types:
                self._types.setdefault(kind.lower(), {"id": self._next(), "name": kind})
            kinds = {kind.lower(): self._types[kind.lower()] for kind in issue_types}
            self._projects[key.upper()] = Project(self._next(), key.upper(), name, kinds, [])

    def add_user(self, account_id: str, email: str, display_name: str) -> None:
        """An active Atlassian account who can be found and assigned."""
        with self._lock:
            if account_id in self._users:
                raise ValueError(f"{account_id} exists")
            url = f"{self.base_url}{API}/user?accountId={account_id}"
            person = dict(self=url, accountId=account_id, accountType="atlassian", emailAddress=email)
            self._users[account_id] = person | {"displayName": display_name, "active": True}

    def issues(self, project_key: str) -> list[dict[str, Any]]:
        """Copies of a project's issues as GET /issue serves them, oldest first."""
        with self._lock:
            return copy.deepcopy(self._projects[project_key.upper()].issues)

    def fail(self, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` API requests with `status` in Jira's error shape."""
        HTTPStatus(status)  # a status HTTP names, for the message
        with self._lock:
            self._failures += [status] * times

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
            person = self._users.get(by_account_id)
            if person is None:
                raise ValueError(f"no account {by_account_id}")
            issue = self._find(key)
            if issue is None:
                raise KeyError(key)
            if issue["fields"]["status"]["name"] == to_status:
                raise ValueError(f"{issue['key']} is {to_status} already")
            payload = self._moved(issue, to_status, person)
            hook = self._hook
        if hook is None:
            return None
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": str(uuid.uuid4())}
        headers["X-Atlassian-Webhook-Flow"] = "Primary"
        if hook[1]:
            headers["X-Hub-Signature"] = sign(hook[1], body)
        return self._send(hook[0], headers, body, retry=0)

    def redeliver(self, delivery_id: str) -> int:
        """Retry a delivery as Jira does (same body, signature and identifier, with
        X-Atlassian-Webhook-Retry): the receiver's status."""
        with self._lock:
            sent = [d for d in self.deliveries if d.id == delivery_id]
        if not sent:
            raise KeyError(delivery_id)
        headers = sent[0].headers | {"X-Atlassian-Webhook-Retry": str(len(sent))}
        return self._send(sent[0].url, headers, sent[0].body, retry=len(sent))

    def _moved(self, issue: dict[str, Any], to_status: str, person: dict[str, Any]) -> dict[str, Any]:
        """Change the status and return the `jira:issue_updated` event that records it."""
        was = issue["fields"]["status"]["name"]
        issue["fields"] |= {"status": self._status(to_status), "updated": _now()}
        item = {"field": "status", "fieldtype": "jira", "fieldId": "status"}
        item |= {"from": STATUSES[was]["id"], "fromString": was}
        item |= {"to": STATUSES[to_status]["id"], "toString": to_status}
        return {
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "webhookEvent": FACTS["webhooks"]["event"],
            "issue_event_type_name": FACTS["webhooks"]["issue_event_type_name"],
            "user": copy.deepcopy(person),
            "issue": copy.deepcopy(issue),
            "changelog": {"id": self._next(), "items": [item]},
        }

    def _send(self, url: str, headers: dict[str, str], body: bytes, *, retry: int) -> int:
        try:  # synchronously, from the caller's thread: the test sees the receiver's answer
            with httpx.Client(timeout=DELIVERY_TIMEOUT) as client:
                status = client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        delivery_id = headers["X-Atlassian-Webhook-Identifier"]
        with self._lock:
            self.deliveries.append(Delivery(delivery_id, url, headers, body, status, retry))
        return status

    async def _answer(self, request: Request) -> Response:
        raw, headers = await request.body(), dict(request.headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        authorized = self._authorized(headers)
        call = JiraRequest(request.method, request.url.path, query, headers, parsed, authorized)
        with self._lock:
            self.requests.append(call)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            wait = {"Retry-After": "1"} if failure == 429 else {}
            body = {"errorMessages": [HTTPStatus(failure).phrase], "errors": {}}
            return JSONResponse(body, status_code=failure, headers=wait)
        if not call.authorized:
            seraph = FACTS["auth"]["bad_credentials"]["header"] if "authorization" in headers else {}
            refused = FACTS["auth"]["unauthenticated"]
            return Response(refused["body"], 401, seraph, media_type=refused["content_type"])
        if not re.search(r"application/json|application/\*|\*/\*", headers.get("accept", "*/*")):
            return Response(status_code=406)
        if raw and not headers.get("content-type", "").lower().startswith("application/json"):
            return Response(status_code=415)
        try:
            with self._lock:
                return self._route(call, raw, str(request.url))
        except Refusal as refusal:
            return refusal.response()

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
            issue = self._create(_object(raw).get("fields", {}))
            return JSONResponse({"id": issue["id"], "key": issue["key"], "self": issue["self"]}, 201)
        if call.method == "GET" and re.fullmatch(r"/issue/[^/]+", path):
            found = self._find(path.removeprefix("/issue/"))
            if found is None:
                raise Refusal(404, ERRORS["issue_not_found"]["message"])
            return JSONResponse(found)
        if call.method == "GET" and path == "/user/search":
            return JSONResponse(self._find_users(call.query))
        if call.method == "POST" and path == "/search/jql":
            return JSONResponse(self._search(_object(raw)))
        raise Refusal(404, _message("unknown_path", url=url))

    def _create(self, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise Refusal(400, **INVALID_PAYLOAD)
        errors = {name: _message("unknown_field", field=name) for name in fields if name not in CREATE_FIELDS}
        project = self._project(fields.get("project"), errors)
        kind = _issue_type(project, fields.get("issuetype"), errors)
        errors |= _field_errors(fields)
        assignee = self._assignee(fields.get("assignee"), errors)
        if errors or project is None or kind is None:
            raise Refusal(400, errors=errors)
        issue_id, now, api = self._next(), _now(), f"{self.base_url}{API}"
        key = f"{project.key}-{len(project.issues) + 1}"
        issue: dict[str, Any] = {"id": issue_id, "self": f"{api}/issue/{issue_id}", "key": key}
        issue["fields"] = {
            "summary": fields["summary"],
            "description": copy.deepcopy(fields.get("description")),
            "labels": list(dict.fromkeys(fields.get("labels") or [])),
            "duedate": fields.get("duedate"),
            "assignee": assignee,
            "reporter": copy.deepcopy(self._users[DEFAULTS["bot"]["accountId"]]),
            "status": self._status("To Do"),
            "project": {"self": f"{api}/project/{project.id}", "id": project.id, "key": project.key}
            | {"name": project.name},
            "issuetype": {"self": f"{api}/issuetype/{kind['id']}", **kind, "subtask": False},
            "created": now,
            "updated": now,
        }
        project.issues.append(issue)
        return issue

    def _project(self, given: Any, errors: dict[str, str]) -> Project | None:
        ref = given if isinstance(given, dict) else {}
        found = [p for p in self._projects.values() if str(ref.get("key", "")).upper() == p.key]
        found += [p for p in self._projects.values() if str(ref.get("id", "")) == p.id]
        if not found:
            errors["project"] = _message("project_invalid")
        return found[0] if found else None

    def _assignee(self, given: Any, errors: dict[str, str]) -> dict[str, Any] | None:
        account = given.get("accountId") if isinstance(given, dict) else None
        if given is not None and account not in self._users:
            errors["assignee"] = _message("assignee_invalid")
        return copy.deepcopy(self._users[account]) if given is not None and account in self._users else None

    def _status(self, name: str) -> dict[str, Any]:
        status, api = STATUSES[name], f"{self.base_url}{API}"
        category = status["category"] | {"self": f"{api}/statuscategory/{status['category']['id']}"}
        described = {"self": f"{api}/status/{status['id']}", "description": "", "name": name}
        return described | {"id": status["id"], "statusCategory": category}

    def _find(self, id_or_key: str) -> dict[str, Any] | None:
        issues = [issue for project in self._projects.values() for issue in project.issues]
        return next((i for i in issues if id_or_key.upper() in (i["id"], i["key"])), None)

    def _find_users(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """`query` by prefix of the display name or email address, any case; or `accountId` exactly."""
        text, account = (query.get(name, [""])[-1].lower() for name in ("query", "accountId"))
        if not text and not account:
            raise Refusal(400, _message("user_search_missing_query"))
        found = [
            user
            for user in self._users.values()
            if user["accountId"].lower() == account
            or (text and any(user[a].lower().startswith(text) for a in ("emailAddress", "displayName")))
        ]
        return copy.deepcopy(found)

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        token, jql = body.get("nextPageToken"), body.get("jql")
        if token is not None and (token not in self._pages or self._pages[token][0] != jql):
            raise Refusal(400, _message("page_token_invalid"))
        project, label = _parse_jql(jql)
        if project.upper() not in self._projects:
            raise Refusal(400, ERRORS["jql"]["unknown_project"].format(value=project))
        fields, size = body.get("fields") or ["id"], body.get("maxResults", 50)
        if (
            not isinstance(fields, list)
            or not all(isinstance(f, str) for f in fields)
            or type(size) is not int
        ):
            raise Refusal(400, **INVALID_PAYLOAD)
        served = {*CREATE_FIELDS, "reporter", "status", "created", "updated"}
        everything = {"*all", "*navigable"} & set(fields)
        wanted = None if set(fields) <= {"id"} else served if everything else served & set(fields)
        size = max(1, min(size, SEARCH_PAGE if wanted is None else SEARCH_PAGE_WITH_FIELDS))
        start = self._pages[token][1] if token is not None else 0
        newest_first = reversed(self._projects[project.upper()].issues)
        found = [issue for issue in newest_first if label in issue["fields"]["labels"]]
        page = [_only(issue, wanted) for issue in found[start : start + size]]
        answer: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
        if not answer["isLast"]:
            answer["nextPageToken"] = secrets.token_urlsafe(24)
            self._pages[answer["nextPageToken"]] = (str(jql), start + size)
        return answer

    def _next(self) -> str:
        self._serial += 1
        return str(self._serial)


def sign(secret: str, body: bytes) -> str:
    """`X-Hub-Signature` for `body`: its HMAC-SHA256 with `secret`, in hex, after `sha256=`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Refusal(400, **INVALID_PAYLOAD)
    return body


def _message(name: str, **values: Any) -> str:
    return str(ERRORS[name]["message"]).format(**values)


def _only(issue: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
    """An issue as search returns it: its id alone (None wanted), or with key, self and those fields."""
    if wanted is None:
        return {"id": issue["id"]}
    fields = {name: value for name, value in issue["fields"].items() if name in wanted}
    return copy.deepcopy(issue | {"fields": fields})


def _issue_type(project: Project | None, given: Any, errors: dict[str, str]) -> dict[str, str] | None:
    ref = given if isinstance(given, dict) else {}
    if not ref.get("name") and not ref.get("id"):
        errors["issuetype"] = _message("issuetype_missing")
        return None
    name, kinds = str(ref.get("name", "")).lower(), project.issue_types if project else {}
    found = kinds.get(name) or next((t for t in kinds.values() if ref.get("id") == t["id"]), None)
    if project is not None and found is None:
        errors["issuetype"] = _message("issuetype_invalid")
    return dict(found) if found else None


def _field_errors(fields: dict[str, Any]) -> dict[str, str]:
    """Jira's words for a bad summary, description (not an Atlassian Document), labels or due date."""
    summary, doc, labels, due = (fields.get(name) for name in CREATE_FIELDS[2:6])
    errors: dict[str, str] = {}
    if summary is None or (isinstance(summary, str) and not summary.strip()):
        errors["summary"] = _message("summary_missing")
    elif not isinstance(summary, str):
        errors["summary"] = _message("summary_not_string")
    elif "\n" in summary or "\r" in summary:
        errors["summary"] = _message("summary_newline")
    elif len(summary) > ERRORS["summary_too_long"]["max"]:
        errors["summary"] = _message("summary_too_long")
    content = doc.get("content") if isinstance(doc, dict) else None
    nodes = isinstance(content, list) and all(isinstance(node, dict) and "type" in node for node in content)
    if doc is not None and not (nodes and doc.get("type") == "doc" and doc.get("version") == 1):
        errors["description"] = _message("description_not_adf")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        errors["labels"] = _message("labels_not_array")
    elif spaced := [label for label in labels or [] if not label or re.search(r"\s", label)]:
        errors["labels"] = _message("label_space", label=spaced[0])
    if due is not None and not _is_date(due):
        errors["duedate"] = _message("duedate_invalid", value=due)
    return errors


def _is_date(value: Any) -> bool:
    try:  # fromisoformat alone would take 20240101 and 2024-W01-1 too
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value))) and bool(date.fromisoformat(str(value)))
    except ValueError:
        return False


def _parse_jql(jql: Any) -> tuple[str, str]:
    """`project = KEY AND labels = "label"`, the one query Warroom runs, as (key, label)."""
    found = JQL.fullmatch(jql) if isinstance(jql, str) else None
    if found is None:
        wanted = 'project = KEY AND labels = "label"'
        raise Refusal(400, f"{ERRORS['jql']['prefix']}this fake serves only `{wanted}`, not {jql!r}.")
    project = found["pq"] if found["pq"] is not None else found["pb"]
    label = found["lq"] if found["lq"] is not None else found["lb"]
    return str(project), str(label)


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
