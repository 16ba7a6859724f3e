"""Closed war rooms: a notice a day ahead, then the archive, once; reopening cancels; 0 keeps them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.flows.archive import archive_closed_rooms
from bot.incidents.changes import Context, close_incident, resolve_incident
from bot.incidents.permissions import Actor
from bot.simulator.harness import LocalWarroom
from storage.models import Incident, TimelineEvent
from storage.session import session_scope
from tests.clock import T0


@pytest.fixture
def room(clock, warroom):
    """INC-1 declared at T0, resolved and closed by its IC at T0 (7-day archive by default)."""
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    close(T0)
    warroom.sim.clear_calls()
    return incident().channel_id


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def close(at: datetime) -> None:
    """Resolve and close INC-1 as its IC, through the domain (how closing is asked for may vary)."""
    ctx = Context(actor=Actor("U0ALICE"), at=at, admins=[], channel_id=incident().channel_id)
    with session_scope() as session:
        resolve_incident(session, incident().id, "fixed", ctx)
    with session_scope() as session:
        close_incident(session, incident().id, ctx)


def kinds() -> list[str]:
    with session_scope() as session:
        return [e.kind for e in session.exec(select(TimelineEvent).order_by(TimelineEvent.id))]


def tick(warroom, clock, hours: float) -> list[tuple[str, dict]]:
    """Run the archive job at T0 + hours; return the Slack calls it made (not the scheduler's
    update reminders, which a reopened incident gets again while its clock moves on)."""
    warroom.sim.clear_calls()
    asyncio.run(archive_closed_rooms(warroom.deps, clock.hours(hours)))
    warroom.settle()
    return [
        (call.method, call.args)
        for call in warroom.sim.calls
        if call.method != "auth.test" and not _reminder(call.args)
    ]


def _reminder(args: dict) -> bool:
    key = ((args.get("metadata") or {}).get("event_payload") or {}).get("key", "")
    return str(key).startswith("reminder:")


def test_a_closed_room_is_told_a_day_ahead_then_archived_once(warroom, room, clock):
    assert tick(warroom, clock, 6 * 24 - 0.1) == []
    [(method, notice)] = tick(warroom, clock, 6 * 24)
    archive_at = T0 + timedelta(days=7)
    assert (method, notice["channel"]) == ("chat.postMessage", room)
    assert notice["text"] == (
        f"This war room will be archived <!date^{int(archive_at.timestamp())}^{{date_short_pretty}} "
        "at {time}|2026-12-01 09:00 UTC>; `/incident reopen` keeps it."
    )
    assert incident().archive_noticed_at == T0 + timedelta(days=6)
    assert tick(warroom, clock, 6 * 24 + 1) == []
    assert tick(warroom, clock, 7 * 24 - 0.1) == []
    assert tick(warroom, clock, 7 * 24) == [("conversations.archive", {"channel": room})]
    assert warroom.sim.channel(room)["is_archived"] is True
    assert incident().archived_at == archive_at and kinds()[-1] == "archived"
    assert tick(warroom, clock, 8 * 24) == []


def test_reopening_before_the_archive_cancels_it_and_closing_again_starts_over(warroom, room, clock):
    tick(warroom, clock, 6 * 24)
    clock.hours(6 * 24 + 2)
    warroom.command("reopen", channel=room)
    warroom.settle()
    assert incident().status == "investigating" and incident().archive_noticed_at is None
    assert tick(warroom, clock, 7 * 24) == [] and tick(warroom, clock, 30 * 24) == []
    close(T0 + timedelta(days=30))
    assert [m for m, _ in tick(warroom, clock, 36 * 24)] == ["chat.postMessage"]
    assert tick(warroom, clock, 37 * 24) == [("conversations.archive", {"channel": room})]


def test_zero_days_keeps_closed_rooms(warroom, room, clock):
    warroom.deps.settings.warroom_archive_after_days = 0
    assert tick(warroom, clock, 365 * 24) == []
    assert incident().archive_noticed_at is None and incident().archived_at is None


def test_a_short_delay_gives_half_of_it_as_notice(warroom, room, clock):
    warroom.deps.settings.warroom_archive_after_days = 0.5
    assert tick(warroom, clock, 5.9) == []
    assert [m for m, _ in tick(warroom, clock, 6)] == ["chat.postMessage"]
    assert tick(warroom, clock, 11.9) == []
    assert [m for m, _ in tick(warroom, clock, 12)] == ["conversations.archive"]


def test_after_a_long_stop_the_notice_still_comes_first_and_the_archive_a_day_later(warroom, room, clock):
    assert [m for m, _ in tick(warroom, clock, 30 * 24)] == ["chat.postMessage"]
    assert tick(warroom, clock, 31 * 24 - 0.1) == []
    assert [m for m, _ in tick(warroom, clock, 31 * 24)] == ["conversations.archive"]


def test_a_slack_refusal_is_recorded_and_not_retried(warroom, room, clock):
    tick(warroom, clock, 6 * 24)
    warroom.sim.fail("conversations.archive", "channel_not_found")
    assert [m for m, _ in tick(warroom, clock, 7 * 24)] == ["conversations.archive"]
    assert kinds()[-1] == "archive_failed" and incident().archived_at is not None
    with session_scope() as session:
        failed = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "archive_failed")).one()
        assert failed.data == {"error": "channel_not_found"}
    assert tick(warroom, clock, 8 * 24) == []


def test_an_incident_without_a_channel_is_skipped(warroom, room, clock):
    with session_scope() as session:
        row = session.exec(select(Incident)).one()
        row.channel_id = None
        session.add(row)
    assert tick(warroom, clock, 30 * 24) == []
    assert incident().archive_noticed_at is None and incident().archived_at is None


def test_two_processes_archive_once(warroom, room, clock, simulator):
    tick(warroom, clock, 6 * 24)
    other = LocalWarroom(simulator, warroom.settings)
    try:
        warroom.sim.clear_calls()
        at = clock.hours(7 * 24)

        async def both() -> None:
            await asyncio.gather(archive_closed_rooms(warroom.deps, at), archive_closed_rooms(other.deps, at))

        asyncio.run(both())
        warroom.settle()
        other.settle()
        assert len(warroom.sim.calls_to("conversations.archive")) == 1
        assert kinds().count("archived") == 1
    finally:
        other.stop()
