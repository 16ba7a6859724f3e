"""Text and JSON the databases can keep, checked where it comes in rather than where it fails.

Postgres refuses NUL in text columns, and neither database can encode half of a surrogate pair,
which JSON's `\\ud800` escape produces. Python's `json` also reads `NaN`, `Infinity` and `1e999`,
which are not JSON: written back into a JSON column, Postgres refuses them. Each would fail the
transaction that stores it, long after the request that brought it was answered.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """False for text holding NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is None


def load_json(text: str, *, max_depth: int) -> Any:
    """Strict JSON whose every string the databases can keep; ValueError saying why not."""
    try:
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    _check(value, max_depth)
    return value


def _check(value: Any, max_depth: int) -> None:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if not storable(item):
                raise ValueError("JSON text holds NUL or a lone surrogate")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth}")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"{number[:20]} is too large a number")
    return value
