"""views.open, views.update and views.publish, with Slack's view checks."""

import copy
import time
from typing import Any

from .args import Args, text
from .spec import ApiError
from .view_rules import view_problems
from .workspace import Workspace


def open_view(ws: Workspace, args: Args) -> dict[str, Any]:
    """views.open: a modal, spending the trigger id."""
    trigger_id = text(args, "trigger_id") or text(args, "interactivity_pointer")
    ws.triggers.check(trigger_id)
    view = _valid_view(args, expected="modal")
    external_id = view.get("external_id")
    if external_id and _by_external_id(ws, external_id) is not None:
        raise ApiError("duplicate_external_id")
    ws.triggers.use(trigger_id)
    return _store(ws, view, ws.next_id("V"))


def update_view(ws: Workspace, args: Args) -> dict[str, Any]:
    """views.update: replace a stored view, guarded by its hash when one is given."""
    if text(args, "view_id"):
        current = ws.views.get(text(args, "view_id"))
    else:
        current = _by_external_id(ws, text(args, "external_id"))
    if current is None:
        raise ApiError("not_found", "[ERROR] no view with that view_id or external_id")
    _check_hash(args, current)
    view = _valid_view(args, expected=current["type"])
    view.setdefault("external_id", current.get("external_id", ""))
    return _store(ws, view, current["id"])


def publish_view(ws: Workspace, args: Args) -> dict[str, Any]:
    """views.publish: a person's Home tab, which keeps one view id."""
    user_id = text(args, "user_id")
    if user_id not in ws.users:
        raise ApiError("not_found", f"[ERROR] no user '{user_id}' to publish a Home tab for")
    view = _valid_view(args, expected="home")
    current_id = ws.homes.get(user_id)
    if current_id is not None:
        _check_hash(args, ws.views[current_id])
    view_id = current_id or ws.next_id("V")
    ws.homes[user_id] = view_id
    return _store(ws, view, view_id)


def _valid_view(args: Args, *, expected: str) -> dict[str, Any]:
    view = args.get("view")
    problems = view_problems(view, expected=expected)
    if problems or not isinstance(view, dict):
        raise ApiError("invalid_arguments", *problems)
    return copy.deepcopy(view)


def _check_hash(args: Args, current: dict[str, Any]) -> None:
    given = text(args, "hash")
    if given and given != current["hash"]:
        raise ApiError("hash_conflict", "[ERROR] the view changed since that hash was issued")


def _by_external_id(ws: Workspace, external_id: str) -> dict[str, Any] | None:
    if not external_id:
        return None
    return next((v for v in ws.views.values() if v.get("external_id") == external_id), None)


def _store(ws: Workspace, view: dict[str, Any], view_id: str) -> dict[str, Any]:
    stored = {
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        **view,
        "id": view_id,
        "team_id": ws.team_id,
        "bot_id": ws.bot_id,
        "root_view_id": view_id,
        "hash": f"{int(time.time())}.{ws.next_id('', 8)}",
        "state": {"values": {}},
    }
    ws.views[view_id] = stored
    return {"ok": True, "view": copy.deepcopy(stored)}


HANDLERS = {
    "views.open": open_view,
    "views.update": update_view,
    "views.publish": publish_view,
}
