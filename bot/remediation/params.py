"""Reading `name=value` parameters and checking them against an action's typed schema."""

from __future__ import annotations

import re
import shlex

from bot.incidents.errors import InvalidInput
from bot.playbooks.models import Action, Parameter

Value = str | int | bool
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_assignments(text: str) -> dict[str, str]:
    """`release=v41 reason="bad deploy"` → {"release": "v41", "reason": "bad deploy"}."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise InvalidInput("Parameters are `name=value`; close any quotes you opened.") from None
    assignments: dict[str, str] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if not sep or not name:
            raise InvalidInput(f"`{token[:40]}` is not `name=value`.")
        assignments[name] = value
    return assignments


def _coerce(name: str, spec: Parameter, raw: str) -> Value:
    if len(raw) > spec.max_length:
        raise InvalidInput(f"`{name}` is {len(raw)} characters; at most {spec.max_length}.")
    if any(ord(char) < 32 for char in raw):
        raise InvalidInput(f"`{name}` contains control characters or line breaks.")
    if spec.enum is not None and raw not in spec.enum:
        raise InvalidInput(f"`{name}` must be one of {', '.join(spec.enum)}.")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, raw):
        raise InvalidInput(f"`{name}` does not have the expected form ({spec.description or spec.pattern}).")
    if spec.type == "integer":
        if not re.fullmatch(r"-?\d{1,18}", raw):
            raise InvalidInput(f"`{name}` must be a whole number.")
        return int(raw)
    if spec.type == "boolean":
        if raw.lower() not in _TRUE + _FALSE:
            raise InvalidInput(f"`{name}` must be true or false.")
        return raw.lower() in _TRUE
    return raw


def validate_params(action: Action, raw: dict[str, str]) -> dict[str, Value]:
    """Typed parameters for `action`; InvalidInput names the first problem (unknown, missing, malformed)."""
    unknown = sorted(set(raw) - set(action.params))
    if unknown:
        known = ", ".join(action.params) or "none"
        raise InvalidInput(f"`{unknown[0][:40]}` is not a parameter of {action.id} (it takes: {known}).")
    values: dict[str, Value] = {}
    for name, spec in action.params.items():
        if raw.get(name, "") == "":
            if spec.required:
                raise InvalidInput(f"{action.id} needs `{name}`: {spec.description or spec.type}.")
            continue
        values[name] = _coerce(name, spec, raw[name])
    return values
