"""Which arguments each simulated Web API method takes, and the error a mistake earns."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METHODS_FILE = Path(__file__).with_name("methods.json")

# Real Slack arguments that methods.json leaves out but slack_sdk sends whenever the caller
# passes them (e.g. chat_postMessage(icon_emoji=...)); rejecting them would fail good code.
EXTRA_OPTIONAL: dict[str, frozenset[str]] = {
    "conversations.info": frozenset({"include_locale"}),
    "conversations.history": frozenset({"include_all_metadata"}),
    "chat.postMessage": frozenset(
        {
            "attachments",
            "as_user",
            "icon_emoji",
            "icon_url",
            "link_names",
            "username",
            "parse",
            "markdown_text",
            "container_id",
        }
    ),
    "chat.postEphemeral": frozenset(
        {
            "attachments",
            "as_user",
            "icon_emoji",
            "icon_url",
            "link_names",
            "username",
            "parse",
            "markdown_text",
        }
    ),
    "chat.update": frozenset(
        {
            "as_user",
            "file_ids",
            "link_names",
            "parse",
            "reply_broadcast",
            "metadata",
            "markdown_text",
        }
    ),
    "files.completeUploadExternal": frozenset({"channels"}),
}

# slack_sdk adds team_id to every call from a client built with one (Bolt does this per
# request), and Slack accepts it everywhere.
ALWAYS_ALLOWED = frozenset({"token", "team_id"})

# Slack answers some missing arguments with an error of the method's own.
MISSING_ERRORS: dict[tuple[str, str], str] = {
    ("conversations.create", "name"): "invalid_name_required",
    ("conversations.invite", "users"): "no_user",
    ("chat.postMessage", "text or blocks or attachments"): "no_text",
    ("chat.postEphemeral", "text or blocks or attachments"): "no_text",
    ("users.info", "user"): "user_not_found",
    ("conversations.info", "channel"): "channel_not_found",
    ("conversations.history", "channel"): "channel_not_found",
    ("chat.getPermalink", "channel"): "channel_not_found",
}


class ApiError(Exception):
    """A Web API failure: Slack's error name plus optional explanations for the developer."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)

    def body(self) -> dict[str, Any]:
        """The JSON body Slack would send for this error."""
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


@dataclass(frozen=True)
class MethodSpec:
    """Required argument groups (any one name of a group will do), optional arguments, the
    body encodings the method reads ("form" always; "json" only for most write methods), and the
    token it wants: "bot" (most), "user" (a Sign in with Slack token) or "none"."""

    name: str
    required: tuple[tuple[str, ...], ...]
    optional: frozenset[str]
    encodings: frozenset[str]
    token: str = "bot"

    @property
    def reads_json(self) -> bool:
        """Whether an application/json body is read; Slack ignores it on the other methods."""
        return "json" in self.encodings

    @property
    def allowed(self) -> frozenset[str]:
        """Every argument name the method accepts."""
        names = {name for group in self.required for name in group}
        return frozenset(names | self.optional)

    def check(self, args: dict[str, Any]) -> None:
        """Raise ApiError for a missing required or an unknown argument."""
        for group in self.required:
            if not any(is_given(args.get(name)) for name in group):
                label = " or ".join(group)
                error = MISSING_ERRORS.get((self.name, label), "invalid_arguments")
                raise ApiError(error, f"[ERROR] missing required argument '{label}'")
        unknown = sorted(set(args) - self.allowed - ALWAYS_ALLOWED)
        if unknown:
            raise ApiError(
                "invalid_arguments",
                *(f"[ERROR] {self.name} takes no argument '{name}'" for name in unknown),
            )


def is_given(value: Any) -> bool:
    """Whether an argument counts as present (Slack treats empty values as absent)."""
    return value is not None and value != "" and value != []


def load_specs(path: Path = METHODS_FILE) -> dict[str, MethodSpec]:
    """Read methods.json into one MethodSpec per method name."""
    methods = json.loads(path.read_text(encoding="utf-8"))["methods"]
    return {name: _spec(name, entry) for name, entry in methods.items()}


def _spec(name: str, entry: dict[str, Any]) -> MethodSpec:
    required = tuple(tuple(part.strip() for part in r.split(" or ")) for r in entry["required"])
    optional = frozenset(entry["optional"]) | EXTRA_OPTIONAL.get(name, frozenset())
    encodings = frozenset(entry["encodings"])
    token = entry.get("token", "bot")
    return MethodSpec(name=name, required=required, optional=optional, encodings=encodings, token=token)
