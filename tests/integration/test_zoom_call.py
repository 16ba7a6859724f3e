"""A Zoom meeting per incident, against the strict fake Zoom: made once the room is ready,
bookmarked, on the card and in a public broadcast (never a private one's, nor its title in the
meeting's topic), made once when the job is retried after a crash, never for a drill, and the
host's start link shown nowhere."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.jobs import faults
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings
from bot.simulator.zoom import FakeZoom
from storage.models import Incident
from storage.session import session_scope
from tests.rooms import form, open_declare_modal
from tests.waiting import take_over


@pytest.fixture
def zoom():
    fake = FakeZoom()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def warroom(simulator, db, zoom):
    settings = local_settings(
        simulator,
        db,
        zoom_account_id=zoom.account_id,
        zoom_client_id=zoom.client_id,
        zoom_client_secret=zoom.client_secret,
        zoom_oauth_url=zoom.oauth_url,
        zoom_api_url=zoom.api_url,
    )
    app = LocalWarroom(simulator, settings)
    yield app
    app.stop()


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def shown(warroom: LocalWarroom, channel: str) -> str:
    return " ".join(m["text"] + str(m.get("blocks")) for m in warroom.sim.channel(channel)["messages"])


def test_a_public_incident_gets_a_meeting_bookmarked_on_its_card_and_announced(warroom, zoom):
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    [meeting] = zoom.meetings()
    assert meeting["topic"] == "INC-1: Checkout returns 500s" and meeting["type"] == 2
    join = meeting["join_url"]
    assert incident().call_url == join
    room = incident().channel_id
    assert [b["link"] for b in warroom.sim.channel(room)["bookmarks"]] == [join]
    card = warroom.sim.channel(room)["messages"][0]
    assert f"<{join}|Join the call>" in str(card["blocks"])
    assert f"<{join}|Join the call>" in shown(warroom, BROADCAST)
    everything = shown(warroom, room) + shown(warroom, BROADCAST)
    assert meeting["start_url"] not in everything and "zak=" not in everything  # the host's link


def test_a_private_incidents_meeting_stays_in_its_room(warroom, zoom):
    view = open_declare_modal(warroom)
    warroom.person.view_submission(view, form("Acquisition leak", "sev1", private=True))
    warroom.settle()
    [meeting] = zoom.meetings()
    assert meeting["topic"] == "INC-1 war room"  # the title stays out of Zoom
    assert incident().call_url == meeting["join_url"]
    assert "zoom" not in shown(warroom, BROADCAST).lower() and meeting["join_url"] not in shown(
        warroom, BROADCAST
    )


def test_a_crash_after_making_the_meeting_makes_no_second(warroom, zoom, clock):
    faults.arm("call.made")
    warroom.command("declare sev2 Checkout returns 500s")
    take_over(warroom, clock)
    assert len(zoom.meetings()) == 1 and incident().call_url == zoom.meetings()[0]["join_url"]
    assert len(warroom.sim.channel(incident().channel_id)["bookmarks"]) == 1


def test_a_drill_gets_no_meeting(warroom, zoom):
    warroom.command("drill checkout-5xx-after-deploy")
    warroom.settle()
    assert incident().drill_of is not None and incident().room_ready_at is not None
    assert zoom.meetings() == [] and zoom.requests == []
