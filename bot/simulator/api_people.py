"""auth.test and the directory: users.info, users.lookupByEmail, usergroups.users.list."""

from typing import Any

from .args import Args, text
from .spec import ApiError
from .workspace import Workspace


def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    """auth.test: who the bot token belongs to."""
    bot = ws.users.get(ws.bot_user_id)
    return {
        "ok": True,
        "url": "https://example.slack.com/",
        "team": "Example",
        "user": bot.name if bot else "warroom",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


def user_info(ws: Workspace, args: Args) -> dict[str, Any]:
    """users.info."""
    return {"ok": True, "user": ws.user(text(args, "user")).to_api()}


def lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    """users.lookupByEmail: e-mail addresses match case-insensitively."""
    email = text(args, "email").lower()
    for user in ws.users.values():
        if user.email and user.email.lower() == email:
            return {"ok": True, "user": user.to_api()}
    raise ApiError("users_not_found", f"[ERROR] nobody has the address '{email}'")


def usergroup_users(ws: Workspace, args: Args) -> dict[str, Any]:
    """usergroups.users.list."""
    group = ws.usergroups.get(text(args, "usergroup"))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group)}


HANDLERS = {
    "auth.test": auth_test,
    "users.info": user_info,
    "users.lookupByEmail": lookup_by_email,
    "usergroups.users.list": usergroup_users,
}
