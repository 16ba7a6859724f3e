"""The app manifest asks for exactly the bot scopes Warroom uses: those of the Web API methods it
calls and the events it listens to, no more, no fewer; its header says what its settings are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "app_manifest.yaml"

# Bot scopes each Web API method needs, from its page at api.slack.com/methods/<name>. A pair is
# for public and for private channels (Warroom opens both kinds of war room). chat.postMessage
# also needs chat:write.public: Warroom posts in alert notice channels nobody invited it to.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "bookmarks.add": ("bookmarks:write",),
    "bookmarks.list": ("bookmarks:read",),
    "chat.getPermalink": (),
    "chat.postEphemeral": ("chat:write",),
    "chat.postMessage": ("chat:write", "chat:write.public"),
    "chat.update": ("chat:write",),
    "conversations.archive": ("channels:manage", "groups:write"),
    "conversations.create": ("channels:manage", "groups:write"),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.invite": ("channels:manage", "groups:write"),
    "conversations.join": ("channels:join",),
    "conversations.list": ("channels:read", "groups:read"),
    "conversations.setPurpose": ("channels:manage", "groups:write"),
    "conversations.setTopic": ("channels:manage", "groups:write"),
    "files.completeUploadExternal": ("files:write",),
    "files.getUploadURLExternal": ("files:write",),
    "pins.add": ("pins:write",),
    "reactions.add": ("reactions:write",),
    "usergroups.users.list": ("usergroups:read",),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "users.conversations": ("channels:read", "groups:read"),
    "views.open": (),
    "views.publish": (),
    "views.push": (),
    "views.update": (),
}
# Bot scopes each Events API event needs, from api.slack.com/events/<name>.
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "app_mention": ("app_mentions:read",),
    "app_uninstalled": (),
    "member_joined_channel": ("channels:read", "groups:read"),
    "reaction_added": ("reactions:read",),
    "tokens_revoked": (),
}
COMMANDS = "commands"  # slash commands and shortcuts (api.slack.com/scopes/commands)


def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))


def sources() -> dict[str, str]:
    """Warroom's own code (not the simulator that fakes Slack), by path."""
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in (ROOT / "bot").rglob("*.py")
        if "simulator" not in path.parts
    }


def methods_warroom_calls() -> set[str]:
    """Every method the gateway passes to `call`, and the modal calls listeners make themselves."""
    gateway = (ROOT / "bot" / "adapters" / "slack.py").read_text(encoding="utf-8")
    methods = set(re.findall(r'self\.call\(\s*"([A-Za-z.]+)"', gateway))
    for text in sources().values():
        methods |= {f"views.{name}" for name in re.findall(r"\.views_(open|push|update)\(", text)}
    return methods


def events_warroom_listens_to() -> set[str]:
    return {event for text in sources().values() for event in re.findall(r'@app\.event\("(\w+)"\)', text)}


def test_every_method_and_event_warroom_uses_is_in_the_scope_table():
    assert methods_warroom_calls() - METHOD_SCOPES.keys() == set(), "add its scopes to METHOD_SCOPES"
    assert events_warroom_listens_to() - EVENT_SCOPES.keys() == set(), "add its scopes to EVENT_SCOPES"
    assert {"chat.postMessage", "views.open", "users.info"} <= methods_warroom_calls()


def test_the_manifest_subscribes_to_exactly_the_events_warroom_listens_to():
    assert set(manifest()["settings"]["event_subscriptions"]["bot_events"]) == events_warroom_listens_to()


def test_the_manifest_asks_for_exactly_the_scopes_warroom_needs():
    app = manifest()
    needed = {scope for method in methods_warroom_calls() for scope in METHOD_SCOPES[method]}
    needed |= {scope for event in events_warroom_listens_to() for scope in EVENT_SCOPES[event]}
    if app["features"].get("slash_commands") or app["features"].get("shortcuts"):
        needed.add(COMMANDS)
    asked = app["oauth_config"]["scopes"]["bot"]
    assert len(asked) == len(set(asked)), "a scope is listed twice"
    assert set(asked) - needed == set(), "asked for but used by no method or event Warroom uses"
    assert needed - set(asked) == set(), "needed by a method or event Warroom uses but not asked for"


def test_the_header_comment_matches_the_settings():
    header = "\n".join(line for line in MANIFEST.read_text(encoding="utf-8").splitlines() if line[:1] == "#")
    app = manifest()
    settings = app["settings"]
    assert f"socket_mode_enabled: {str(settings['socket_mode_enabled']).lower()}" in header
    urls = {
        app["features"]["slash_commands"][0]["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
    }
    assert urls == {"https://warroom.example.com/slack/events"}
    assert "replace warroom.example.com in every URL" in header
