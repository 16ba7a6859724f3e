"""The war rooms of incidents that PagerDuty alerts declared."""

from __future__ import annotations

from bot.deps import Deps
from bot.slack.rooms import submit_open_war_room
from storage.models import Incident


def open_war_rooms(deps: Deps, opened: list[Incident]) -> None:
    """Open the war room of each incident a batch of alerts declared."""
    for incident in opened:
        submit_open_war_room(deps, incident, response_url=None)  # the room-opening call site (rooms)
