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


def form(title: str, severity: str = "sev3", private: bool = False, summary: str = "") -> dict:
    """Slack's `state.values` for the declare modal."""
    chosen = [{"value": "private"}] if private else []
    return {
        "title": {"title": {"type": "plain_text_input", "value": title}},
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": severity}}},
        "summary": {"summary": {"type": "plain_text_input", "value": summary or None}},
        "private": {"private": {"type": "checkboxes", "selected_options": chosen}},
    }


def open_declare_modal(warroom, text: str = "declare") -> dict:
    """Type `/incident declare` without a title; return the modal Slack was asked to open."""
    response = warroom.command(text)
    assert response.status_code == 200 and response.content == b""
    warroom.settle()
    [opened] = warroom.sim.calls_to("views.open")
    assert opened.ok
    return opened.response["view"]
