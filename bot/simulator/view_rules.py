"""What Slack checks in a modal or Home tab view before showing it."""

from typing import Any

from .blocks import check_blocks, has_input_block
from .kit import MAX_ID, MAX_VIEW_BLOCKS
from .problems import Problems

VIEW_TYPES = ("modal", "home")
MAX_MODAL_LABEL = 24  # title, submit and close
MAX_PRIVATE_METADATA = 3000


def view_problems(view: Any, *, expected: str | None = None) -> list[str]:
    """Everything Slack would reject in a view, as '[ERROR] …' messages."""
    p = Problems()
    if not isinstance(view, dict):
        p.fail("/view", "must be a view object (JSON)")
        return p.messages
    kind = view.get("type")
    if kind not in VIEW_TYPES or (expected is not None and kind != expected):
        wanted = expected or " or ".join(VIEW_TYPES)
        p.fail("/view/type", f"must be {wanted} (got {kind!r})")
        return p.messages
    if kind == "modal":
        _modal(p, view)
    p.string(view, "private_metadata", "/view", limit=MAX_PRIVATE_METADATA)
    p.string(view, "callback_id", "/view", limit=MAX_ID)
    p.string(view, "external_id", "/view", limit=MAX_ID)
    check_blocks(p, view.get("blocks"), limit=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    return p.messages


def _modal(p: Problems, view: dict[str, Any]) -> None:
    p.text(view, "title", "/view", limit=MAX_MODAL_LABEL, plain=True)
    p.text(view, "submit", "/view", limit=MAX_MODAL_LABEL, plain=True, required=False)
    p.text(view, "close", "/view", limit=MAX_MODAL_LABEL, plain=True, required=False)
    if has_input_block(view.get("blocks")) and "submit" not in view:
        p.fail("/view/submit", "a modal with input blocks needs a submit button")
