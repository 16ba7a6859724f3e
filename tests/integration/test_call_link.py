"""The incident's call (WARROOM_CALL_URL): bookmarked in the war room once, even when the room's
opening is retried after a crash; on the card; in the broadcast of a public incident, never in a
private one's."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.jobs import faults
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings
from storage.models import Incident
from storage.session import session_scope
from tests.rooms import form, open_declare_modal
from tests.waiting import take_over

TEMPLATE = "https://meet.example.com/inc-{number}-{slug}"
CALL = "https://meet.example.com/inc-1-checkout-returns-500s"


@pytest.fixture
def warroom(simulator, db):
    app = LocalWarroom(simulator, local_settings(simulator, db, warroom_call_url=TEMPLATE))
    yield app
    app.stop()


def room() -> str:
    with session_scope() as session:
        channel = session.exec(select(Incident)).one().channel_id
    assert channel is not None
    return channel


def card_text(warroom: LocalWarroom) -> str:
    return str(warroom.sim.channel(room())["messages"][0]["blocks"])


def broadcast_text(warroom: LocalWarroom) -> str:
    [announced] = warroom.sim.channel(BROADCAST)["messages"]
    return announced["text"] + str(announced["blocks"])


def test_a_public_incidents_call_is_bookmarked_on_the_card_and_announced(warroom):
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    [bookmark] = warroom.sim.channel(room())["bookmarks"]
    assert (bookmark["title"], bookmark["link"], bookmark["type"]) == ("Incident call", CALL, "link")
    [added] = warroom.sim.calls_to("bookmarks.add")
    assert added.encoding != "json" and added.args["channel_id"] == room()  # a form-only method
    assert f"<{CALL}|Join the call>" in card_text(warroom)
    assert f"<{CALL}|Join the call>" in broadcast_text(warroom)


def test_a_private_incidents_call_stays_in_its_room(warroom):
    view = open_declare_modal(warroom)
    warroom.person.view_submission(view, form("Acquisition leak", "sev1", private=True))
    warroom.settle()
    call = "https://meet.example.com/inc-1-acquisition-leak"
    assert [b["link"] for b in warroom.sim.channel(room())["bookmarks"]] == [call]
    assert f"<{call}|Join the call>" in card_text(warroom)
    assert "meet.example.com" not in broadcast_text(warroom)


def test_a_retried_room_bookmarks_its_call_once(warroom, clock):
    faults.arm("rooms.bookmarked")
    warroom.command("declare sev2 Checkout returns 500s")
    take_over(warroom, clock)
    assert [b["link"] for b in warroom.sim.channel(room())["bookmarks"]] == [CALL]
    assert len(warroom.sim.calls_to("bookmarks.list")) == 1  # the retry looked before adding


def test_without_a_call_url_there_is_no_call(simulator, db):
    app = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        app.command("declare sev2 Checkout returns 500s")
        app.settle()
        assert app.sim.calls_to("bookmarks.add") == [] and "Join the call" not in card_text(app)
    finally:
        app.stop()
