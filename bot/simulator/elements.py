"""Checks for interactive Block Kit elements (buttons, selects, inputs, …)."""

import re
from collections.abc import Callable
from typing import Any

from .kit import (
    BUTTON_STYLES,
    CONFIRM_KEYS,
    ELEMENT_KEYS,
    IMAGE_ELEMENT_KEYS,
    OPTION_COUNTS,
    OPTION_KEYS,
    TEXT_TYPES,
)
from .problems import Problems

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_INPUT_LENGTH = 3000
# Checkboxes and radio buttons may show mrkdwn in options; selects and overflow may not.
MRKDWN_OPTIONS = frozenset({"checkboxes", "radio_buttons"})


def check_element(p: Problems, element: Any, pointer: str, allowed: frozenset[str]) -> None:
    """Check one element placed where only the `allowed` element types may go."""
    if not isinstance(element, dict):
        p.fail(pointer, "must be an element object")
        return
    kind = element.get("type")
    if kind not in allowed:
        known = kind == "image" or kind in ELEMENT_KEYS
        problem = "is not allowed here" if known else "is not a known element type"
        p.fail(f"{pointer}/type", f"{kind!r} {problem}")
        return
    if kind == "image":
        check_image_element(p, element, pointer)
        return
    p.keys(element, ELEMENT_KEYS[kind] | {"type", "action_id"}, pointer)
    p.unique_id(element, "action_id", pointer, p.action_ids)
    p.text(element, "placeholder", pointer, limit=150, plain=True, required=False)
    if "confirm" in element:
        _confirm(p, element["confirm"], f"{pointer}/confirm")
    if kind in OPTION_COUNTS:
        _options(p, element, pointer, kind)
    _SPECIFIC.get(kind, _nothing)(p, element, pointer)


def check_image_element(p: Problems, element: dict[str, Any], pointer: str) -> None:
    """Check an image element: a URL (or Slack file) and alt text."""
    p.keys(element, IMAGE_ELEMENT_KEYS, pointer)
    if "slack_file" not in element:
        p.string(element, "image_url", pointer, limit=3000, required=True)
    p.string(element, "alt_text", pointer, limit=2000, required=True)


def _nothing(p: Problems, element: dict[str, Any], pointer: str) -> None:
    """Elements with nothing beyond the common checks."""


def _button(p: Problems, element: dict[str, Any], pointer: str) -> None:
    p.text(element, "text", pointer, limit=75, plain=True)
    p.string(element, "value", pointer, limit=2000)
    p.string(element, "url", pointer, limit=3000)
    p.string(element, "accessibility_label", pointer, limit=75)
    if "style" in element and element["style"] not in BUTTON_STYLES:
        p.fail(f"{pointer}/style", "must be 'primary' or 'danger'")


def _text_input(p: Problems, element: dict[str, Any], pointer: str) -> None:
    low, high = element.get("min_length", 0), element.get("max_length", MAX_INPUT_LENGTH)
    for key, value in (("min_length", low), ("max_length", high)):
        if not isinstance(value, int) or not 0 <= value <= MAX_INPUT_LENGTH:
            p.fail(f"{pointer}/{key}", f"must be an integer from 0 to {MAX_INPUT_LENGTH}")
            return
    if low > high:
        p.fail(f"{pointer}/min_length", "must not exceed max_length")
    p.string(element, "initial_value", pointer, limit=high)


def _datepicker(p: Problems, element: dict[str, Any], pointer: str) -> None:
    date = element.get("initial_date")
    if date is not None and not (isinstance(date, str) and DATE.match(date)):
        p.fail(f"{pointer}/initial_date", "must be a date as YYYY-MM-DD")


def _options(p: Problems, element: dict[str, Any], pointer: str, kind: str) -> None:
    if "option_groups" in element and "options" not in element:
        return
    options = element.get("options")
    low, high = OPTION_COUNTS[kind]
    if not isinstance(options, list) or not low <= len(options) <= high:
        p.fail(f"{pointer}/options", f"must be an array of {low} to {high} options")
        return
    for i, option in enumerate(options):
        _option(p, option, f"{pointer}/options/{i}", plain=kind not in MRKDWN_OPTIONS)
    _initial_options(p, element, pointer, options)


def _option(p: Problems, option: Any, pointer: str, *, plain: bool) -> None:
    if not isinstance(option, dict):
        p.fail(pointer, "must be an option object")
        return
    p.keys(option, OPTION_KEYS, pointer)
    p.text(option, "text", pointer, limit=75, plain=plain)
    p.string(option, "value", pointer, limit=150, required=True)
    p.text(option, "description", pointer, limit=75, plain=plain, required=False)
    p.string(option, "url", pointer, limit=3000)


def _initial_options(p: Problems, element: dict[str, Any], pointer: str, options: list[Any]) -> None:
    # Slack rejects an initial option that does not exactly match one of the options.
    values = {_option_key(option) for option in options}
    key = "initial_option" if "initial_option" in element else "initial_options"
    chosen = element.get(key, [])
    if key == "initial_option":
        chosen = [chosen]
    if not isinstance(chosen, list):
        p.fail(f"{pointer}/{key}", "must be an array of options")
        return
    for option in chosen:
        if _option_key(option) not in values:
            p.fail(f"{pointer}/{key}", "must match one of the options exactly")


def _option_key(option: Any) -> tuple[str, str] | None:
    if not isinstance(option, dict) or not isinstance(option.get("text"), dict):
        return None
    return str(option["text"].get("text")), str(option.get("value"))


def _confirm(p: Problems, confirm: Any, pointer: str) -> None:
    if not isinstance(confirm, dict):
        p.fail(pointer, "must be a confirmation dialog object")
        return
    p.keys(confirm, CONFIRM_KEYS, pointer)
    p.text(confirm, "title", pointer, limit=100, plain=True)
    p.text(confirm, "text", pointer, limit=300)
    p.text(confirm, "confirm", pointer, limit=30, plain=True)
    p.text(confirm, "deny", pointer, limit=30, plain=True)
    if "style" in confirm and confirm["style"] not in BUTTON_STYLES:
        p.fail(f"{pointer}/style", "must be 'primary' or 'danger'")


def is_text_object(value: Any) -> bool:
    """Whether a context element is a text object rather than an image."""
    return isinstance(value, dict) and value.get("type") in TEXT_TYPES


_SPECIFIC: dict[str, Callable[[Problems, dict[str, Any], str], None]] = {
    "button": _button,
    "plain_text_input": _text_input,
    "datepicker": _datepicker,
}
