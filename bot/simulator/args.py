"""Reading Web API arguments that may arrive as form strings or as JSON values."""

import json
from typing import Any

from .spec import ApiError

# Form-encoded callers send these as JSON text; JSON callers usually send them as values.
JSON_FIELDS = ("blocks", "view", "attachments", "files", "metadata")

Args = dict[str, Any]


def decode_json_fields(args: Args) -> Args:
    """Turn JSON text in structured fields into Python values; leave undecodable text as is."""
    decoded = dict(args)
    for key in JSON_FIELDS:
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            try:
                decoded[key] = json.loads(value)
            except ValueError:
                continue
    return decoded


def text(args: Args, key: str, default: str = "") -> str:
    """A string argument, or the default when absent."""
    value = args.get(key)
    return default if value is None else str(value)


def flag(args: Args, key: str) -> bool:
    """A boolean argument: forms send 1/0 or true/false, JSON sends booleans."""
    value = args.get(key)
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def integer(args: Args, key: str, default: int) -> int:
    """An integer argument; anything that is not a number is invalid_arguments."""
    value = args.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments", f"[ERROR] '{key}' must be an integer") from None


def id_list(args: Args, key: str) -> list[str]:
    """A comma-separated list of ids, blanks dropped."""
    return [part.strip() for part in text(args, key).split(",") if part.strip()]
