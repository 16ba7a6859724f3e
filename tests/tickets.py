"""A follow-up in a war room, its "File a … issue" button pressed, and what became of it."""

from __future__ import annotations

from sqlmodel import select

from bot.simulator.harness import LocalWarroom
from bot.simulator.sender import new_trigger_id
from storage.models import FollowUp, Ticket
from storage.session import session_scope


def add_followup(warroom: LocalWarroom, room: str) -> dict:
    """`/incident followup` in the war room; the line Warroom posted."""
    warroom.command("followup <@U0BOB|bob> Alert on queue depth due 2030-01-31", channel=room)
    warroom.settle()
    [line] = [m for m in warroom.sim.channel(room)["messages"] if "added a follow-up" in m.get("text", "")]
    return line


def press_file(warroom: LocalWarroom, room: str, line: dict, user: str = "U0ALICE") -> str:
    """Press the line's button as `user`; the button's words."""
    actions = next(b for b in line["blocks"] if b["type"] == "actions")
    [button] = actions["elements"]
    warroom.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": new_trigger_id(),
            "channel": {"id": room},
            "container": {"type": "message", "message_ts": line["ts"], "channel_id": room},
            "message": line,
            "actions": [{**button, "block_id": "ticket", "action_ts": "1.1"}],
        }
    )
    return str(button["text"]["text"])


def ticket() -> Ticket:
    with session_scope() as session:
        return session.exec(select(Ticket)).one()


def followup() -> FollowUp:
    with session_scope() as session:
        return session.exec(select(FollowUp)).one()


def filed_lines(warroom: LocalWarroom, room: str) -> list[str]:
    return [
        m["text"] for m in warroom.sim.channel(room)["messages"] if "Follow-up filed as" in m.get("text", "")
    ]


def told(warroom: LocalWarroom) -> list[str]:
    return [
        c.args["text"]
        for c in [*warroom.sim.calls_to("chat.postEphemeral"), *warroom.sim.calls_to("response_url")]
    ]
