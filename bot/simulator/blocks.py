"""Block Kit validation for messages and views, strict where Slack is strict."""

from collections.abc import Callable
from typing import Any

from .elements import check_element, check_image_element, is_text_object
from .kit import ACTIONS_ELEMENTS, BLOCK_KEYS, INPUT_ELEMENTS, SECTION_ACCESSORIES
from .problems import Problems

BlockCheck = Callable[[Problems, dict[str, Any], str], None]


def block_problems(blocks: Any, *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Everything Slack would reject in a list of blocks, as '[ERROR] …' messages."""
    return check_blocks(Problems(), blocks, limit=limit, pointer=pointer).messages


def check_blocks(p: Problems, blocks: Any, *, limit: int, pointer: str) -> Problems:
    """Check a blocks array into p, which carries the ids already used in the surface."""
    if not isinstance(blocks, list):
        p.fail(pointer, "must be an array of blocks")
        return p
    if len(blocks) > limit:
        p.fail(pointer, f"no more than {limit} blocks are allowed (got {len(blocks)})")
    for i, block in enumerate(blocks):
        _block(p, block, f"{pointer}/{i}")
    return p


def has_input_block(blocks: Any) -> bool:
    """Whether a blocks array contains an input block (a modal then needs a submit button)."""
    return isinstance(blocks, list) and any(
        isinstance(block, dict) and block.get("type") == "input" for block in blocks
    )


def _block(p: Problems, block: Any, pointer: str) -> None:
    if not isinstance(block, dict):
        p.fail(pointer, "must be a block object")
        return
    kind = block.get("type")
    if kind not in BLOCK_KEYS:
        p.fail(f"{pointer}/type", f"{kind!r} is not a known block type")
        return
    p.keys(block, BLOCK_KEYS[kind] | {"type", "block_id"}, pointer)
    p.unique_id(block, "block_id", pointer, p.block_ids)
    _CHECKS[kind](p, block, pointer)


def _section(p: Problems, block: dict[str, Any], pointer: str) -> None:
    if "text" not in block and "fields" not in block:
        p.fail(pointer, "a section needs text or fields")
    p.text(block, "text", pointer, limit=3000, required=False)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
            p.fail(f"{pointer}/fields", "must be an array of 1 to 10 text objects")
        else:
            for i, field in enumerate(fields):
                p.text_object(field, f"{pointer}/fields/{i}", limit=2000)
    if "accessory" in block:
        check_element(p, block["accessory"], f"{pointer}/accessory", SECTION_ACCESSORIES)


def _header(p: Problems, block: dict[str, Any], pointer: str) -> None:
    p.text(block, "text", pointer, limit=150, plain=True)


def _context(p: Problems, block: dict[str, Any], pointer: str) -> None:
    elements = _element_list(p, block, pointer, high=10)
    for i, element in enumerate(elements):
        where = f"{pointer}/elements/{i}"
        if is_text_object(element):
            p.text_object(element, where, limit=3000)
        elif isinstance(element, dict) and element.get("type") == "image":
            check_image_element(p, element, where)
        else:
            p.fail(where, "context elements must be text objects or images")


def _actions(p: Problems, block: dict[str, Any], pointer: str) -> None:
    for i, element in enumerate(_element_list(p, block, pointer, high=25)):
        check_element(p, element, f"{pointer}/elements/{i}", ACTIONS_ELEMENTS)


def _element_list(p: Problems, block: dict[str, Any], pointer: str, *, high: int) -> list[Any]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= high:
        p.fail(f"{pointer}/elements", f"must be an array of 1 to {high} elements")
        return []
    return elements


def _input(p: Problems, block: dict[str, Any], pointer: str) -> None:
    p.text(block, "label", pointer, limit=2000, plain=True)
    p.text(block, "hint", pointer, limit=2000, plain=True, required=False)
    if "element" not in block:
        p.fail(f"{pointer}/element", "an input block needs an element")
    else:
        check_element(p, block["element"], f"{pointer}/element", INPUT_ELEMENTS)


def _image(p: Problems, block: dict[str, Any], pointer: str) -> None:
    if "slack_file" not in block:
        p.string(block, "image_url", pointer, limit=3000, required=True)
    p.string(block, "alt_text", pointer, limit=2000, required=True)
    p.text(block, "title", pointer, limit=2000, plain=True, required=False)


def _divider(p: Problems, block: dict[str, Any], pointer: str) -> None:
    """A divider has nothing to check beyond its keys."""


def _rich_text(p: Problems, block: dict[str, Any], pointer: str) -> None:
    if not isinstance(block.get("elements"), list):
        p.fail(f"{pointer}/elements", "must be an array")


_CHECKS: dict[str, BlockCheck] = {
    "section": _section,
    "header": _header,
    "context": _context,
    "actions": _actions,
    "divider": _divider,
    "input": _input,
    "image": _image,
    "rich_text": _rich_text,
}
