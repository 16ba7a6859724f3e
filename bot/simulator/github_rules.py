"""What the fake GitHub (`github.py`) takes and how it refuses the rest: its facts, GitHub's error
shape (`message`, `errors`, `documentation_url`, `status`) and the checks of a request body and of
the list filters, each worded as GitHub words it. Pure: no state and no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import JSONResponse, Response

from bot.simulator.fake_tracker import TrackerRefusal, load_facts

FACTS: dict[str, Any] = load_facts("github.json")
VERSIONS: list[str] = FACTS["api_versions"]["supported"]
ENDPOINTS: dict[str, dict[str, Any]] = FACTS["endpoints"]
LIST_QUERY: dict[str, dict[str, Any]] = ENDPOINTS["issues/list-for-repo"]["query"]
ROOT_DOC = "https://docs.github.com/rest"
CLOSE_REASONS = ("completed", "not_planned", "duplicate")


class Refusal(TrackerRefusal):
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


def read_object(raw: bytes, doc: str) -> dict[str, Any]:
    """A request body as GitHub reads it, or its refusal."""
    if not raw.strip():
        raise wrong_type("", None, "an object", doc, prefix="links/0/schema")
    try:
        body = json.loads(raw)
    except ValueError:
        raise Refusal(400, FACTS["errors"]["problems_parsing_json"]["message"], doc) from None
    if not isinstance(body, dict):
        raise Refusal(400, FACTS["errors"]["body_not_object"]["message"], doc)
    return body


def read_title(value: Any, doc: str) -> str:
    """An issue's title: a string or an integer, not empty."""
    if value is None or value == "":
        error = {"resource": "Issue", "code": "missing_field", "field": "title"}
        raise Refusal(422, "Validation Failed", doc, [error])
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise wrong_type("title", value, "a string or integer", doc)
    return str(value)


def read_text(value: Any, doc: str) -> str | None:
    """An issue's body: a string or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong_type("body", value, "a string", doc)
    return value


def read_array(value: Any, field: str, doc: str) -> list[Any]:
    """A field that must be an array."""
    if not isinstance(value, list):
        raise wrong_type(field, value, "an array", doc)
    return value


def refuse_none_such(body: dict[str, Any], fields: tuple[str, ...], doc: str) -> None:
    """Refuse a milestone or issue type: the fake's repositories and organizations define none."""
    for field in fields:
        if body.get(field) is not None:
            raise invalid(field, body[field], doc)


def invalid(field: str, value: Any, doc: str) -> Refusal:
    """GitHub's 422 for a value a field does not take."""
    error = {"value": value, "resource": "Issue", "field": field, "code": "invalid"}
    return Refusal(422, "Validation Failed", doc, [error])


def wrong_type(field: str, value: Any, kinds: str, doc: str, *, prefix: str = "") -> Refusal:
    """GitHub's 422 for a value of a type the schema does not allow."""
    shown = "nil" if value is None else json.dumps(value)
    detail = f"For '{prefix or 'properties/' + field}', {shown} is not {kinds}."
    return Refusal(422, FACTS["errors"]["invalid_request"]["message"].format(detail=detail), doc)


def read_choice(one: dict[str, str], key: str, doc: str) -> str:
    """A list parameter with a fixed set of values (state, sort, direction), else its default."""
    value = str(one.get(key, LIST_QUERY[key]["default"]))
    if value not in LIST_QUERY[key]["enum"]:
        raise invalid(key, value, doc)
    return value


def read_since(value: str, doc: str) -> datetime:
    """The list's `since`: an ISO 8601 moment, UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise invalid("since", value, doc) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_count(one: dict[str, str], key: str) -> int:
    """`page` or `per_page`: a positive number, else the default."""
    value = one.get(key, "")
    return int(value) if value.isdigit() and int(value) > 0 else int(LIST_QUERY[key]["default"])


def page_links(base: str, query: dict[str, list[str]], page: int, last: int) -> str:
    """The `Link` header of a list's `page` of `last` at `base` (none when one page holds it all)."""
    if last == 1 and page == 1:
        return ""
    kept = [(key, value) for key, values in query.items() if key != "page" for value in values]
    pages = {
        "prev": page - 1 if page > 1 else None,
        "next": page + 1 if page < last else None,
        "last": last if page < last else None,
        "first": 1 if page > 1 else None,
    }
    links = [(rel, f"<{base}?{urlencode([*kept, ('page', n)])}>") for rel, n in pages.items() if n]
    return ", ".join(f'{url}; rel="{rel}"' for rel, url in links)


def matches(issue: dict[str, Any], one: dict[str, str]) -> bool:
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
