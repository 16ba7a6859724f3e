"""Who may do what to an incident: checked when a request arrives, whatever was shown."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.errors import WarroomError
from bot.incidents.rules import Role


class NotAllowed(WarroomError):
    """The person may not do this; the message says who may."""


class Action(StrEnum):
    """Things people do to an incident, each with its own rule."""

    CHANGE = "change the severity, status or roles"
    PAGE = "page PagerDuty"
    HAND_OVER = "hand over the incident commander role"
    CLOSE = "close or reopen the incident"
    NOTE = "add to the timeline"
    READ = "see a private incident"


@dataclass(frozen=True)
class Actor:
    """Who is asking, as Slack describes them."""

    user_id: str
    is_guest: bool = False
    is_external: bool = False


def check(
    action: Action,
    actor: Actor,
    *,
    commander: str,
    scribe: str | None,
    admins: list[str],
    in_channel: bool,
    commander_is_bot: bool = False,
) -> None:
    """Raise `NotAllowed` unless `actor` may perform `action`."""
    if actor.is_guest or actor.is_external:
        raise NotAllowed("Guests and people from other workspaces cannot change incidents.")
    is_admin = actor.user_id in admins
    if action in (Action.NOTE, Action.READ):
        if in_channel or actor.user_id in (commander, scribe) or is_admin:
            return
        if action is Action.READ:
            raise NotAllowed(
                f"Only the people in its war room can see a private incident; ask the incident "
                f"commander (<@{commander}>) to invite you."
            )
        raise NotAllowed("Only people in the war room can add to its timeline; join the channel first.")
    if action in (Action.CHANGE, Action.PAGE):
        if actor.user_id in (commander, scribe) or is_admin:
            return
        who = f"the incident commander (<@{commander}>), the {Role.SCRIBE.value} or a Warroom admin"
    else:
        # an incident opened from an alert starts with Warroom as IC: anyone in the room takes over
        if actor.user_id == commander or is_admin or (commander_is_bot and in_channel):
            return
        who = f"the incident commander (<@{commander}>) or a Warroom admin"
    raise NotAllowed(f"Only {who} can {action.value}.")
