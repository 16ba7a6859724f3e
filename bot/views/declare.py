"""The declare modal and reading its submission."""

from __future__ import annotations

import json
from typing import Any

from bot.incidents.errors import InvalidInput
from bot.incidents.rules import (
    DEFAULT_SEVERITY,
    SUMMARY_MAX,
    TITLE_MAX,
    Declaration,
    Severity,
    clean_summary,
    clean_title,
)
from bot.text import escape_mrkdwn

CALLBACK_ID = "declare"
PAGE_SERVICE = "page_service"  # the optional "page the on-call of" picker; options come from PagerDuty


def _option(severity: Severity) -> dict[str, Any]:
    text = {"type": "plain_text", "text": severity.label}
    return {"text": text, "value": severity.label.lower()}


def declare_modal(
    *,
    title: str = "",
    severity: Severity = DEFAULT_SEVERITY,
    context: dict[str, str] | None = None,
    page_picker: bool = False,
) -> dict[str, Any]:
    """The modal opened by `/incident declare` without a title (with a service picker when
    PagerDuty can page)."""
    title_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "title",
        "max_length": TITLE_MAX,
        "placeholder": {"type": "plain_text", "text": "Checkout returns 500s"},
    }
    if title:
        title_input["initial_value"] = title
    modal: dict[str, Any] = {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": {"type": "plain_text", "text": "Declare incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(context or {}),
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": _plain("Title"),
                "element": title_input,
            },
            {
                "type": "input",
                "block_id": "severity",
                "label": _plain("Severity"),
                "element": {
                    "type": "static_select",
                    "action_id": "severity",
                    "options": [_option(s) for s in Severity],
                    "initial_option": _option(severity),
                },
            },
            {
                "type": "input",
                "block_id": "summary",
                "optional": True,
                "label": _plain("Summary"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "summary",
                    "multiline": True,
                    "max_length": SUMMARY_MAX,
                },
            },
            {
                "type": "input",
                "block_id": "private",
                "optional": True,
                "label": _plain("Visibility"),
                "element": {
                    "type": "checkboxes",
                    "action_id": "private",
                    "options": [
                        {
                            "text": _plain(
                                "Private incident (private channel, title kept out of broadcasts)"
                            ),
                            "value": "private",
                        }
                    ],
                },
            },
        ],
    }
    if page_picker:
        modal["blocks"].append(
            {
                "type": "input",
                "block_id": PAGE_SERVICE,
                "optional": True,
                "label": _plain("Page the on-call of"),
                "element": {
                    "type": "external_select",
                    "action_id": PAGE_SERVICE,
                    "min_query_length": 0,
                    "placeholder": _plain("A PagerDuty service"),
                },
            }
        )
    return modal


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def read_declare_form(view: dict[str, Any]) -> tuple[Declaration | None, dict[str, str]]:
    """The declaration in a submitted modal, or field errors keyed by block id."""
    values = view.get("state", {}).get("values", {})

    def field(block: str) -> dict[str, Any]:
        return dict(values.get(block, {}).get(block, {}))

    errors: dict[str, str] = {}
    title = summary = ""
    try:
        title = clean_title(field("title").get("value") or "")
    except InvalidInput as exc:
        errors["title"] = exc.user_message[:150]
    try:
        summary = clean_summary(field("summary").get("value") or "")
    except InvalidInput as exc:
        errors["summary"] = exc.user_message[:150]
    chosen = (field("severity").get("selected_option") or {}).get("value", "sev3")
    severity = {s.label.lower(): s for s in Severity}.get(chosen)
    if severity is None:
        errors["severity"] = "Choose SEV1 to SEV4."
    private = any(o.get("value") == "private" for o in field("private").get("selected_options") or [])
    if errors or severity is None:
        return None, errors
    return Declaration(title=title, severity=severity, summary=summary, private=private), {}


def service_choice(view: dict[str, Any]) -> str | None:
    """The id of the PagerDuty service picked to page, if any."""
    state = view.get("state", {}).get("values", {}).get(PAGE_SERVICE, {}).get(PAGE_SERVICE, {})
    return str((state.get("selected_option") or {}).get("value") or "") or None


def service_options(services: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The picker's options: (id, name) pairs, names cut to Slack's 75 characters."""
    return [{"text": _plain(name[:75]), "value": service_id[:150]} for service_id, name in services]


def scenario_list(asked: str, scenarios: list[tuple[str, str]]) -> str:
    """The answer to `/incident drill` without a known scenario: the runbooks one can rehearse."""
    if not scenarios:
        return "There are no runbooks to rehearse: add some to the playbooks directory first."
    shown = escape_mrkdwn(asked.strip()[:40].replace("`", "'"))
    lines = [f"`{shown}` is not a runbook." if shown else "Pick a scenario to rehearse:"]
    ordered = sorted(scenarios)
    lines += [f"• `{playbook_id}` — {escape_mrkdwn(title)}" for playbook_id, title in ordered[:40]]
    lines.append(f"e.g. `/incident drill {ordered[0][0]}` (put sev1…sev4 before it to choose the severity).")
    return "\n".join(lines)


def modal_context(view: dict[str, Any]) -> dict[str, str]:
    """What the command that opened the modal left in `private_metadata`."""
    try:
        context = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in context.items() if isinstance(v, str)} if isinstance(context, dict) else {}
