"""Block Kit builders: data in, blocks out, no I/O."""

from typing import Any

Blocks = list[dict[str, Any]]
