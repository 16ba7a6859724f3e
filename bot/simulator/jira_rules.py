"""What the fake Jira Cloud (`jira.py`) takes and how it refuses the rest: its facts, Jira's
ErrorCollection, and the checks of a create request's fields and of the one JQL query Warroom runs,
each in Jira's words. Pure: no state and no HTTP."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from starlette.responses import JSONResponse, Response

from bot.simulator.fake_tracker import TrackerRefusal, load_facts

FACTS: dict[str, Any] = load_facts("jira.json")
ERRORS: dict[str, Any] = FACTS["errors"]
STATUSES: dict[str, dict[str, Any]] = {k: v for k, v in FACTS["statuses"].items() if k != "source"}
DEFAULTS: dict[str, Any] = FACTS["defaults"]
INVALID_PAYLOAD: dict[str, Any] = FACTS["media_types"]["invalid_payload"]["body"]
API = "/rest/api/3"
CREATE_FIELDS = ("project", "issuetype", "summary", "description", "labels", "duedate", "assignee")
_VALUE = r'(?:"(?P<{0}q>[^"\\]*)"|(?P<{0}b>[A-Za-z0-9_.\-]+))'
JQL = re.compile(rf"\s*project\s*=\s*{_VALUE.format('p')}\s+and\s+labels\s*=\s*{_VALUE.format('l')}\s*", re.I)


class Refusal(TrackerRefusal):
    """Answer with Jira's ErrorCollection, or with exactly `body` when one is given."""

    def __init__(self, code: int, *messages: str, errors: dict[str, str] | None = None, **body: Any) -> None:
        super().__init__(code, messages)
        self.status = code
        self.body = body or {"errorMessages": list(messages), "errors": errors or {}}

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status)


def read_object(raw: bytes) -> dict[str, Any]:
    """A request body as Jira reads it (none is an empty object), or its refusal."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Refusal(400, **INVALID_PAYLOAD)
    return body


def message(name: str, **values: Any) -> str:
    """Jira's words for the error `name` in `jira.json`."""
    return str(ERRORS[name]["message"]).format(**values)


def field_errors(fields: dict[str, Any]) -> dict[str, str]:
    """Jira's words for a bad summary, description (not an Atlassian Document), labels or due date."""
    summary, doc, labels, due = (fields.get(name) for name in CREATE_FIELDS[2:6])
    errors: dict[str, str] = {}
    if summary is None or (isinstance(summary, str) and not summary.strip()):
        errors["summary"] = message("summary_missing")
    elif not isinstance(summary, str):
        errors["summary"] = message("summary_not_string")
    elif "\n" in summary or "\r" in summary:
        errors["summary"] = message("summary_newline")
    elif len(summary) > ERRORS["summary_too_long"]["max"]:
        errors["summary"] = message("summary_too_long")
    content = doc.get("content") if isinstance(doc, dict) else None
    nodes = isinstance(content, list) and all(isinstance(node, dict) and "type" in node for node in content)
    if doc is not None and not (nodes and doc.get("type") == "doc" and doc.get("version") == 1):
        errors["description"] = message("description_not_adf")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        errors["labels"] = message("labels_not_array")
    elif spaced := [label for label in labels or [] if not label or re.search(r"\s", label)]:
        errors["labels"] = message("label_space", label=spaced[0])
    if due is not None and not _is_date(due):
        errors["duedate"] = message("duedate_invalid", value=due)
    return errors


def _is_date(value: Any) -> bool:
    try:  # fromisoformat alone would take 20240101 and 2024-W01-1 too
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value))) and bool(date.fromisoformat(str(value)))
    except ValueError:
        return False


def parse_jql(jql: Any) -> tuple[str, str]:
    """`project = KEY AND labels = "label"`, the one query Warroom runs, as (key, label)."""
    found = JQL.fullmatch(jql) if isinstance(jql, str) else None
    if found is None:
        wanted = 'project = KEY AND labels = "label"'
        raise Refusal(400, f"{ERRORS['jql']['prefix']}this fake serves only `{wanted}`, not {jql!r}.")
    project = found["pq"] if found["pq"] is not None else found["pb"]
    label = found["lq"] if found["lq"] is not None else found["lb"]
    return str(project), str(label)
