"""The data of the fake Jira Cloud site (`jira.py`): projects with their issue types and issues, the
people who can be found and assigned, the JSON Jira serves for each, the searches' pages, and the
change a person makes when moving an issue. No HTTP and no lock: the fake calls it holding its lock."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.simulator.jira_rules import (
    API,
    CREATE_FIELDS,
    DEFAULTS,
    ERRORS,
    FACTS,
    INVALID_PAYLOAD,
    STATUSES,
    Refusal,
    field_errors,
    message,
    parse_jql,
)

SEARCH_PAGE, SEARCH_PAGE_WITH_FIELDS = 5000, 100


@dataclass
class Project:
    """A project, the issue types it allows (lower-cased name -> {id, name}) and its issues."""

    id: str
    key: str
    name: str
    issue_types: dict[str, dict[str, str]]
    issues: list[dict[str, Any]]  # as GET /issue serves them, oldest first


class JiraIssues:
    """The projects, issue types and people of one fake Jira site, every id drawn from one serial."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.projects: dict[str, Project] = {}  # upper-cased key -> project
        self._serial = 10000
        self._types: dict[str, dict[str, str]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._pages: dict[str, tuple[str, int]] = {}

    def add_project(self, key: str, name: str, issue_types: tuple[str, ...]) -> None:
        """A project whose issues may be of `issue_types` (site-wide types, made on first use)."""
        if key.upper() in self.projects:
            raise ValueError(f"{key} exists")
        for kind in issue_types:
            self._types.setdefault(kind.lower(), {"id": self.new_id(), "name": kind})
        kinds = {kind.lower(): self._types[kind.lower()] for kind in issue_types}
        self.projects[key.upper()] = Project(self.new_id(), key.upper(), name, kinds, [])

    def add_user(self, account_id: str, email: str, display_name: str) -> None:
        """An active Atlassian account who can be found and assigned."""
        if account_id in self._users:
            raise ValueError(f"{account_id} exists")
        url = f"{self.base_url}{API}/user?accountId={account_id}"
        person = dict(self=url, accountId=account_id, accountType="atlassian", emailAddress=email)
        self._users[account_id] = person | {"displayName": display_name, "active": True}

    def transition(self, key: str, to_status: str, by_account_id: str) -> dict[str, Any]:
        """Move an issue to `to_status` as that person would: the `jira:issue_updated` event."""
        person = self._users.get(by_account_id)
        if person is None:
            raise ValueError(f"no account {by_account_id}")
        issue = self.find(key)
        if issue is None:
            raise KeyError(key)
        if issue["fields"]["status"]["name"] == to_status:
            raise ValueError(f"{issue['key']} is {to_status} already")
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
            "changelog": {"id": self.new_id(), "items": [item]},
        }

    def create(self, fields: Any) -> dict[str, Any]:
        """File the issue a create request's `fields` describe, reported by the bot."""
        if not isinstance(fields, dict):
            raise Refusal(400, **INVALID_PAYLOAD)
        errors = {name: message("unknown_field", field=name) for name in fields if name not in CREATE_FIELDS}
        project = self._project(fields.get("project"), errors)
        kind = _issue_type(project, fields.get("issuetype"), errors)
        errors |= field_errors(fields)
        assignee = self._assignee(fields.get("assignee"), errors)
        if errors or project is None or kind is None:
            raise Refusal(400, errors=errors)
        issue_id, now, api = self.new_id(), _now(), f"{self.base_url}{API}"
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

    def find(self, id_or_key: str) -> dict[str, Any] | None:
        """The issue with that id or key (any case), as GET /issue serves it."""
        issues = [issue for project in self.projects.values() for issue in project.issues]
        return next((i for i in issues if id_or_key.upper() in (i["id"], i["key"])), None)

    def find_users(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """`query` by prefix of the display name or email address, any case; or `accountId` exactly."""
        text, account = (query.get(name, [""])[-1].lower() for name in ("query", "accountId"))
        if not text and not account:
            raise Refusal(400, message("user_search_missing_query"))
        found = [
            user
            for user in self._users.values()
            if user["accountId"].lower() == account
            or (text and any(user[a].lower().startswith(text) for a in ("emailAddress", "displayName")))
        ]
        return copy.deepcopy(found)

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        """A page of the issues Warroom's one JQL query finds, newest first, and the next page's token."""
        token, jql = body.get("nextPageToken"), body.get("jql")
        if token is not None and (token not in self._pages or self._pages[token][0] != jql):
            raise Refusal(400, message("page_token_invalid"))
        project, label = parse_jql(jql)
        if project.upper() not in self.projects:
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
        newest_first = reversed(self.projects[project.upper()].issues)
        found = [issue for issue in newest_first if label in issue["fields"]["labels"]]
        page = [_only(issue, wanted) for issue in found[start : start + size]]
        answer: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
        if not answer["isLast"]:
            answer["nextPageToken"] = secrets.token_urlsafe(24)
            self._pages[answer["nextPageToken"]] = (str(jql), start + size)
        return answer

    def new_id(self) -> str:
        """The next id: of an issue type, project, issue or changelog."""
        self._serial += 1
        return str(self._serial)

    def _project(self, given: Any, errors: dict[str, str]) -> Project | None:
        ref = given if isinstance(given, dict) else {}
        found = [p for p in self.projects.values() if str(ref.get("key", "")).upper() == p.key]
        found += [p for p in self.projects.values() if str(ref.get("id", "")) == p.id]
        if not found:
            errors["project"] = message("project_invalid")
        return found[0] if found else None

    def _assignee(self, given: Any, errors: dict[str, str]) -> dict[str, Any] | None:
        account = given.get("accountId") if isinstance(given, dict) else None
        if given is not None and account not in self._users:
            errors["assignee"] = message("assignee_invalid")
        return copy.deepcopy(self._users[account]) if given is not None and account in self._users else None

    def _status(self, name: str) -> dict[str, Any]:
        status, api = STATUSES[name], f"{self.base_url}{API}"
        category = status["category"] | {"self": f"{api}/statuscategory/{status['category']['id']}"}
        described = {"self": f"{api}/status/{status['id']}", "description": "", "name": name}
        return described | {"id": status["id"], "statusCategory": category}


def _issue_type(project: Project | None, given: Any, errors: dict[str, str]) -> dict[str, str] | None:
    ref = given if isinstance(given, dict) else {}
    if not ref.get("name") and not ref.get("id"):
        errors["issuetype"] = message("issuetype_missing")
        return None
    name, kinds = str(ref.get("name", "")).lower(), project.issue_types if project else {}
    found = kinds.get(name) or next((t for t in kinds.values() if ref.get("id") == t["id"]), None)
    if project is not None and found is None:
        errors["issuetype"] = message("issuetype_invalid")
    return dict(found) if found else None


def _only(issue: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
    """An issue as search returns it: its id alone (None wanted), or with key, self and those fields."""
    if wanted is None:
        return {"id": issue["id"]}
    fields = {name: value for name, value in issue["fields"].items() if name in wanted}
    return copy.deepcopy(issue | {"fields": fields})


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
