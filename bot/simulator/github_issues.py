"""The data of the fake GitHub (`github.py`): private repositories with their collaborators, labels
and issues, the JSON GitHub serves for each (in the REST API and in an `issues` delivery), and the
changes that a request or a person on github.com makes to an issue. No HTTP and no lock: the fake
calls it holding its lock."""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.simulator.github_rules import (
    CLOSE_REASONS,
    FACTS,
    Refusal,
    invalid,
    read_array,
    read_text,
    read_title,
    refuse_none_such,
    wrong_type,
)

BOT = FACTS["auth"]["token_owner"]["login"]


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


class GitHubIssues:
    """The repositories and accounts of one fake GitHub, every id drawn from one serial."""

    def __init__(self, base_url: str, web_url: str) -> None:
        self.base_url, self.web_url = base_url, web_url
        self.repositories: dict[str, Repository] = {}  # lower-cased full name -> repository
        self._serial = 1_000_000
        self._accounts: dict[str, int] = {}

    def add_repository(self, full_name: str, collaborators: tuple[str, ...] | list[str]) -> None:
        """A private repository whose `collaborators` (and the token's owner) can be assigned."""
        owner, name = full_name.split("/")
        if full_name.lower() in self.repositories:
            raise ValueError(f"{full_name} exists")
        people = {login.lower(): login for login in [BOT, *collaborators]}
        repo = Repository(self.new_id(), owner, name, people, {}, [], {})
        for label in FACTS["default_labels"]:
            self._label(repo, label["name"], color=label["color"], description=label["description"])
        self.repositories[full_name.lower()] = repo

    def by_id(self, repo_id: str) -> Repository | None:
        """The repository whose id is `repo_id`, as GitHub's `/repositories/{id}` names it."""
        return next((r for r in self.repositories.values() if str(r.id) == repo_id), None)

    def act(self, full_name: str, number: int, state: str, *, by: str, reason: str | None) -> dict[str, Any]:
        """Close or reopen an issue as `by` would on github.com: the `issues` event that records it."""
        repo = self.repositories[full_name.lower()]
        person = repo.collaborators.get(by.lower())
        if person is None:
            raise ValueError(f"{by} has no access to change issues in {full_name}")
        issue = next((i for i in repo.issues if i["number"] == number), None)
        if issue is None:
            raise KeyError(f"{full_name}#{number}")
        if issue["state"] == state:
            raise ValueError(f"{full_name}#{number} is {state} already")
        self.set_state(repo, issue, state, reason, by=person)
        action = "closed" if state == "closed" else "reopened"
        payload = {"action": action, "issue": copy.deepcopy(issue)}
        payload |= {"repository": self._repository(repo), "organization": self._organization(repo)}
        payload["sender"] = self._user(person)
        return payload

    def issue(self, repo: Repository, number: str, doc: str) -> dict[str, Any]:
        """The issue numbered `number` (as the path spells it), or GitHub's 404."""
        found = [i for i in repo.issues if number.isdigit() and i["number"] == int(number)]
        if not found:
            raise Refusal(404, "Not Found", doc)
        return found[0]

    def create(self, repo: Repository, body: dict[str, Any], doc: str) -> dict[str, Any]:
        """File the issue a create request's body describes, as the token's owner."""
        title = read_title(body.get("title"), doc)
        text = read_text(body.get("body"), doc)
        labels = self._labels(repo, body.get("labels", []), doc)
        assignees = self._assignees(repo, body, doc)
        refuse_none_such(body, ("milestone", "type"), doc)
        number, issue_id, now = len(repo.issues) + 1, self.new_id(), _now()
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
        repo.touched[number] = self.new_id()
        return issue

    def update(
        self, repo: Repository, issue: dict[str, Any], body: dict[str, Any], doc: str
    ) -> dict[str, Any]:
        """Change an issue as an update request's body says, as the token's owner."""
        changes: dict[str, Any] = {}
        if body.get("title") is not None:
            changes["title"] = read_title(body["title"], doc)
        if "body" in body:
            changes["body"] = read_text(body["body"], doc)
        if "labels" in body:
            changes["labels"] = self._labels(repo, body["labels"], doc)
        if "assignees" in body or body.get("assignee") is not None:
            changes["assignees"] = self._assignees(repo, body, doc)
            changes["assignee"] = changes["assignees"][0] if changes["assignees"] else None
        refuse_none_such(body, ("milestone", "type"), doc)
        state, reason = body.get("state"), body.get("state_reason")
        if state is not None and state not in ("open", "closed"):
            raise invalid("state", state, doc)
        if reason is not None and reason not in (*CLOSE_REASONS, "reopened"):
            raise invalid("state_reason", reason, doc)
        issue.update(changes, updated_at=_now())
        repo.touched[issue["number"]] = self.new_id()
        if state is not None and state != issue["state"]:  # state_reason alone changes nothing
            self.set_state(repo, issue, state, reason, by=BOT)
        return issue

    def set_state(
        self, repo: Repository, issue: dict[str, Any], state: str, reason: str | None, *, by: str
    ) -> None:
        """Close (for `reason`) or reopen an issue as `by`."""
        closed: dict[str, Any]
        if state == "closed":
            closed = {"state_reason": reason or "completed", "closed_at": _now(), "closed_by": self._user(by)}
        else:
            closed = {"state_reason": "reopened", "closed_at": None, "closed_by": None}
        issue.update(closed, state=state, updated_at=_now())
        repo.touched[issue["number"]] = self.new_id()

    def new_id(self) -> int:
        """The next id: of a repository, label, issue, account or hook, or the rank of a change."""
        self._serial += 1
        return self._serial

    def _labels(self, repo: Repository, given: Any, doc: str) -> list[dict[str, Any]]:
        names = [
            item.get("name") if isinstance(item, dict) else item for item in read_array(given, "labels", doc)
        ]
        if not all(isinstance(name, str) and name.strip() for name in names):
            raise wrong_type("labels", given, "an array of label names or objects with a name", doc)
        labels = {label["id"]: label for label in (self._label(repo, str(name)) for name in names)}
        return copy.deepcopy(list(labels.values()))

    def _label(
        self, repo: Repository, name: str, *, color: str = "", description: str | None = None
    ) -> dict[str, Any]:
        """The repository's label `name`, created (grey, as GitHub does) when it has none."""
        if name.lower() not in repo.labels:
            label_id = self.new_id()
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
        given = [("assignees", login) for login in read_array(body.get("assignees", []), "assignees", doc)]
        if body.get("assignee") is not None:
            given.append(("assignee", body["assignee"]))
        if not all(isinstance(login, str) for _, login in given):
            raise wrong_type("assignees", body.get("assignees"), "an array of logins", doc)
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
            self._accounts[login.lower()] = self.new_id()
        return self._accounts[login.lower()]


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global id: base64 of '0{len(kind)}:{kind}{id}' (MDU6SXNzdWUx is '05:Issue1')."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
