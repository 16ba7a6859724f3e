"""Opening a war room is a durable job: a crash at any step is taken over once its lease runs
out and finishes the room with one channel, card, pin and announcement; Slack retrying the
declaration, a second replica, and a look-alike channel change nothing of that."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, event
from sqlmodel import select

from bot.adapters.slack import SlackGateway
from bot.jobs import faults, queue
from bot.jobs.dispatcher import LEASE
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings
from storage.models import Incident, Job, TimelineEvent
from storage.session import get_engine, in_session, session_scope
from tests.clock import T0

NAME = "inc-1-checkout-returns-500s"
DECLARE = "declare sev2 Checkout returns 500s"
CRASH_POINTS = [
    "rooms.channel_created",
    "rooms.channel_recorded",
    "rooms.card_posted",
    "rooms.announced",
    "rooms.pinned",
    "rooms.ready",
]


def only_incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def jobs() -> list[Job]:
    """The jobs the declaration made (not the scheduler's ticks)."""
    return in_session(lambda s: list(s.exec(select(Job).where(Job.kind != "schedule").order_by(Job.id))))


def take_over(warroom: LocalWarroom, clock: Any) -> None:
    """The dead owner's lease runs out; a live dispatcher takes the job over."""
    clock.at += LEASE + timedelta(seconds=1)
    warroom.deps.jobs.wake()
    warroom.settle()
    warroom.settle()  # the jobs the taken-over one recorded (its runbook post)


def assert_one_room(warroom: LocalWarroom, name: str = NAME) -> None:
    """One channel, card, pin, announcement and invite; the room ready; every job done."""
    sim = warroom.sim
    incident = only_incident()
    assert incident.room_ready_at is not None and incident.channel_name == name
    created = [call for call in sim.calls_to("conversations.create") if call.ok]
    assert [call.response["channel"]["id"] for call in created] == [incident.channel_id]
    room = sim.channel(incident.channel_id)
    cards = [m for m in room["messages"] if not m["text"].startswith("Runbook:")]
    runbooks = [m for m in room["messages"] if m["text"].startswith("Runbook:")]
    assert [card["ts"] for card in cards] == [incident.card_ts] and room["pins"] == [incident.card_ts]
    assert len(runbooks) == 1
    [announced] = sim.channel(BROADCAST)["messages"]
    assert announced["ts"] == incident.broadcast_ts and "INC-1 declared" in announced["text"]
    assert [call.ok for call in sim.calls_to("conversations.invite")].count(True) == 1
    assert room["members"].count("U0ALICE") == 1
    assert room["topic"] == "SEV2 · Investigating · IC @alice"
    with session_scope() as session:
        kinds = session.exec(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id))
        assert list(kinds) == ["declared", "channel_created", "announced"]
    assert {job.state for job in jobs()} == {"done"}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_room_crashed_at_any_step_is_finished_once_after_takeover(warroom, clock, point):
    faults.arm(point)
    ack = warroom.command(DECLARE)
    assert ack.json()["text"].startswith("Declaring INC-1")
    warroom.settle()
    [job] = jobs()
    assert (job.kind, job.key, job.state) == ("room.open", f"room:{only_incident().id}", "running")
    take_over(warroom, clock)
    assert_one_room(warroom)
    told = [call.args["text"] for call in warroom.sim.calls_to("response_url")]
    # the declarer's answer is at most once: after a crash once the room was ready, none is sent
    assert len(told) == (0 if point == "rooms.ready" else 1)
    assert all(text.startswith("INC-1 is open in <#") for text in told)
    if point == "rooms.channel_created":
        [listed] = warroom.sim.calls_to("conversations.list")  # read like Slack's other lists: a GET
        assert (listed.encoding, listed.args["types"], listed.args["exclude_archived"]) == (
            "query",
            "public_channel",
            "1",
        )


def test_a_look_alike_channel_is_not_adopted_but_warroom_s_own_is(warroom, clock):
    warroom.sim.add_channel(NAME, creator="U0BOB", members=["U0BOB"])  # someone else's, same name
    faults.arm("rooms.channel_created")
    warroom.command(DECLARE)
    warroom.settle()
    take_over(warroom, clock)
    names = [call.args["name"] for call in warroom.sim.calls_to("conversations.create")]
    assert names == [NAME, f"{NAME}-2"]
    assert_one_room(warroom, f"{NAME}-2")
    assert warroom.sim.channel_by_name(NAME)["messages"] == []


def test_a_channel_warroom_made_before_the_declaration_is_not_adopted(warroom, clock):
    before = int((T0 - timedelta(hours=1)).timestamp())  # e.g. from a database since restored
    warroom.sim.add_channel(NAME, created=before)
    warroom.command(DECLARE)
    warroom.settle()
    assert [call.args["name"] for call in warroom.sim.calls_to("conversations.create")] == [NAME, f"{NAME}-2"]
    assert_one_room(warroom, f"{NAME}-2")


def test_slack_retrying_the_declaration_at_the_same_moment_declares_once(warroom):
    reply_to = warroom.sim.response_url("r")
    body = warroom.person.command_body(DECLARE, trigger_id="7.7.same", response_url=reply_to)
    answers: list[str] = []

    def send() -> None:
        answers.append(warroom.person.post(body, "application/x-www-form-urlencoded").json()["text"])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warroom.settle()
    assert sorted(answers)[0].startswith("Declaring INC-1")
    assert sorted(answers)[1:] == ["INC-1 was already declared from this command."] * 3
    assert [job.kind for job in jobs()].count("room.open") == 1
    assert_one_room(warroom)


def test_two_replicas_open_one_room_and_the_second_waits_for_the_first_s_lease(simulator, db, clock):
    first = LocalWarroom(simulator, local_settings(simulator, db))
    second: LocalWarroom | None = None
    try:
        faults.arm("rooms.card_posted")
        first.command(DECLARE)
        first.settle()
        second = LocalWarroom(simulator, first.settings)  # starts while the room is half open
        second.deps.jobs.wake()
        second.settle()
        assert len(simulator.calls_to("conversations.create")) == 1
        assert only_incident().room_ready_at is None, "a live lease is not taken over"
        clock.at += LEASE + timedelta(seconds=1)
        for replica in (first, second):
            replica.deps.jobs.wake()
        first.settle()
        second.settle()
        assert_one_room(second)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_failed_room_retried_by_an_admin_is_finished_without_a_second_channel_or_card(warroom):
    warroom.sim.fail("pins.add", "invalid_arguments")
    warroom.command(DECLARE)
    warroom.settle()
    [job] = jobs()
    assert job.state == "failed"
    # `warroom jobs retry ID` counts the attempts afresh: the job looks new, the channel is Slack's
    assert in_session(queue.retry_failed, job.id, at=only_incident().declared_at)
    warroom.deps.jobs.wake()
    warroom.settle()
    assert_one_room(warroom)


def test_the_room_opens_in_three_round_trips_invite_first_pin_last(warroom):
    issued: list[str] = []
    call = warroom.deps.slack.call

    async def recording(method: str, **arguments: Any) -> dict[str, Any]:
        issued.append(method)
        return await call(method, **arguments)

    warroom.deps.slack.call = recording  # type: ignore[method-assign]
    warroom.sim.set_latency(0.05)
    warroom.command(DECLARE)
    warroom.settle()
    assert issued[:2] == ["conversations.create", "conversations.invite"]
    # then card ‖ topic (its commander's name first) ‖ announcement, all issued before any answer
    assert issued[2:5] == ["chat.postMessage", "users.info", "chat.postMessage"]
    assert sorted(issued[5:7]) == ["conversations.setTopic", "pins.add"]  # the third round trip
    assert issued[7:] == ["chat.postMessage"]  # once the room is ready: the runbook that fits


@contextmanager
def counted(engine: Engine) -> Iterator[list[list[str]]]:
    """Each transaction the app commits, as its SQL statements; the test's own polling (on this
    thread), the job table's claims and finishes and the health check's schema look are left out."""
    transactions: list[list[str]] = []
    open_: dict[int, list[str]] = {}
    here = threading.get_ident()

    def noted(sql: str) -> bool:
        skipped = ("BEGIN", "UPDATE jobs", "SELECT count(*) AS count_1 \nFROM jobs")
        return not sql.startswith(skipped) and "alembic_version" not in sql

    def on_statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if threading.get_ident() != here and noted(sql):
            open_.setdefault(id(conn), []).append(sql)

    def on_end(conn: Any) -> None:
        statements = open_.pop(id(conn), [])
        if statements:
            transactions.append(statements)

    listeners = [("before_cursor_execute", on_statement), ("commit", on_end), ("rollback", on_end)]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield transactions
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


@pytest.fixture
def unscheduled(simulator, db, monkeypatch) -> Iterator[LocalWarroom]:
    """The app without its scheduled jobs (reminders, archive …), which run at start-up."""

    def no_jobs(_deps: Any) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler()
        scheduler.start()
        return scheduler

    monkeypatch.setattr("bot.scheduler.start_scheduler", no_jobs)
    app = LocalWarroom(simulator, local_settings(simulator, db))
    app.settle()  # start-up's own work (stored webhooks, interrupted runs)
    yield app
    app.stop()


def test_a_declaration_takes_three_transactions_and_nine_statements_until_its_room_is_ready(unscheduled):
    warroom = unscheduled
    with counted(get_engine()) as transactions:
        warroom.command(DECLARE)
        warroom.settle()
    marked = [statements[0].startswith("UPDATE incidents SET card_ts") for statements in transactions]
    ready = marked.index(True)
    declaration = transactions[: ready + 1]
    assert len(declaration) <= 3, declaration
    assert sum(len(statements) for statements in declaration) <= 10, declaration
    request, channel, _ = declaration
    assert [sql.split()[2] for sql in request] == [
        "incidents",
        "processed_requests",
        "role_assignments",
        "timeline_events",
        "jobs",
    ]
    assert channel[0].startswith("UPDATE incidents")
    assert_one_room(warroom)


def test_the_declare_form_records_its_page_with_the_ready_room(warroom):
    warroom.command("declare")
    warroom.settle()
    view = warroom.sim.calls_to("views.open")[-1].args["view"]
    state = {
        "title": {"title": {"value": "Checkout returns 500s"}},
        "severity": {"severity": {"selected_option": {"value": "sev2"}}},
        "page_service": {"page_service": {"selected_option": {"value": "PSVC002"}}},
    }
    warroom.person.view_submission(view, state)
    warroom.settle()
    incident = only_incident()
    room, page = [job for job in jobs() if job.kind in ("room.open", "pagerduty.page")]
    assert room.payload == {
        "incident_id": incident.id,
        "number": 1,
        "title": "Checkout returns 500s",
        "private": False,
        "page_service": "PSVC002",
    }
    assert (page.kind, page.key) == ("pagerduty.page", f"page:{incident.id}:PSVC002")
    assert page.payload == {"incident_id": incident.id, "service_id": "PSVC002", "user": "U0ALICE"}
    assert page.tell == {"response_url": incident.response_url}


def test_conversations_list_pages_through_public_channels_and_the_private_ones_warroom_is_in(simulator):
    for n in range(1000):
        simulator.add_channel(f"busy-{n}")
    simulator.add_channel("old", is_archived=True)
    mine = simulator.add_channel("inc-9-secret", is_private=True, members=["U0BOT"])
    simulator.add_channel("not-mine", is_private=True, members=["U0BOB"])
    slack = SlackGateway(simulator.token, simulator.base_url)

    async def names(private: bool) -> list[str]:
        return [channel["name"] async for channel in slack.channels(private=private)]

    public = asyncio.run(names(False))
    assert len(public) == 1002 and "old" not in public  # the 1,000, #general and the broadcast channel
    first, then = simulator.calls_to("conversations.list")  # 999 a page
    assert "cursor" not in first.args
    assert then.args["cursor"] == first.response["response_metadata"]["next_cursor"] != ""
    assert asyncio.run(names(True)) == ["inc-9-secret"]
    [found] = simulator.calls_to("conversations.list")[-1].response["channels"]
    assert (found["id"], found["creator"], found["is_private"]) == (mine, "U0BOT", True)
    assert isinstance(found["created"], int)
