"""The war room most integration tests start from."""

from __future__ import annotations

from sqlmodel import select

from bot.simulator.harness import LocalWarroom
from storage.models import Incident
from storage.session import session_scope


def open_room(warroom: LocalWarroom) -> str:
    """Declare INC-1 as alice (its IC), wait for its war room, clear the simulator's log; the room's id."""
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    warroom.sim.clear_calls()
    with session_scope() as session:
        channel = session.exec(select(Incident).where(Incident.number == 1)).one().channel_id
    assert channel is not None
    return channel
