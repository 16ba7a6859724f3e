"""Collecting Block Kit mistakes as Slack reports them: '[ERROR] … [json-pointer:/…]'."""

from typing import Any

from .kit import MAX_ID, TEXT_KEYS, TEXT_TYPES


class Problems:
    """Mistakes found so far, plus the ids that must stay unique within one message or view."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    def fail(self, pointer: str, problem: str) -> None:
        """Note one mistake at a JSON pointer."""
        self.messages.append(f"[ERROR] {problem} [json-pointer:{pointer}]")

    def keys(self, obj: dict[str, Any], allowed: frozenset[str], pointer: str) -> None:
        """Flag properties Slack does not know (usually a typo)."""
        for key in sorted(set(obj) - allowed):
            self.fail(f"{pointer}/{key}", f"unsupported property '{key}'")

    def string(
        self, obj: dict[str, Any], key: str, pointer: str, *, limit: int, required: bool = False
    ) -> None:
        """Check an optional (or required) string property and its length."""
        value = obj.get(key)
        where = f"{pointer}/{key}"
        if value is None:
            if required:
                self.fail(where, "required property is missing")
        elif not isinstance(value, str):
            self.fail(where, "must be a string")
        elif len(value) > limit:
            self.fail(where, f"must be at most {limit} characters (got {len(value)})")

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        pointer: str,
        *,
        limit: int,
        plain: bool = False,
        required: bool = True,
    ) -> None:
        """Check a text-object property of obj."""
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"{pointer}/{key}", "required text object is missing")
            return
        self.text_object(value, f"{pointer}/{key}", limit=limit, plain=plain)

    def text_object(self, value: Any, where: str, *, limit: int, plain: bool = False) -> None:
        """Check one text object: a type, non-empty text within the limit, known keys."""
        if not isinstance(value, dict):
            self.fail(where, "must be a text object")
            return
        kind = value.get("type")
        if kind not in TEXT_TYPES or (plain and kind != "plain_text"):
            allowed = "plain_text" if plain else "plain_text or mrkdwn"
            self.fail(f"{where}/type", f"must be {allowed} (got {kind!r})")
            return
        self.keys(value, TEXT_KEYS, where)
        body = value.get("text")
        if not isinstance(body, str) or not body:
            self.fail(f"{where}/text", "must be a non-empty string")
        elif len(body) > limit:
            self.fail(f"{where}/text", f"must be at most {limit} characters (got {len(body)})")
        if "emoji" in value and kind != "plain_text":
            self.fail(f"{where}/emoji", "emoji is only allowed on plain_text")
        if "verbatim" in value and kind != "mrkdwn":
            self.fail(f"{where}/verbatim", "verbatim is only allowed on mrkdwn")

    def unique_id(self, obj: dict[str, Any], key: str, pointer: str, seen: set[str]) -> None:
        """Check a block_id or action_id: a string of at most 255, unique in its surface."""
        value = obj.get(key)
        if value is None:
            return
        where = f"{pointer}/{key}"
        if not isinstance(value, str) or not value:
            self.fail(where, "must be a non-empty string")
        elif len(value) > MAX_ID:
            self.fail(where, f"must be at most {MAX_ID} characters")
        elif value in seen:
            self.fail(where, f"{key} '{value}' is used more than once")
        else:
            seen.add(value)
