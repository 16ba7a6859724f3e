"""PagerDuty webhooks, alert notices, pages and resolving linked PagerDuty incidents survive a
crash at every step boundary: each notice, line, page, link and resolve happens exactly once,
nothing is lost, one refused notice does not hold up the others, and two replicas on one
database processing the same deliveries do each thing once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from bot import clock as wall
from bot.flows.alerts import store_and_record
from bot.jobs import faults
from bot.jobs.dispatcher import LEASE
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.pagerduty import FakePagerDuty
from storage.models import Alert, Incident, Job, Page, PagerDutyLink, TimelineEvent
from storage.session import in_session, session_scope
from tests.pagerduty import pd_body, pd_event, pd_settings, send_delivery

SECRET = "whsec_durable"
RULES = """
rules:
  - {name: checkout-errors, triage: high, severity: 2, match: {service: "Checkout*", title: "*5xx*"}}
default: low
notice_channels:
  Gone Service: C0GONE
default_notice_channel: C0GENERAL
"""


def settings(simulator, db, pd: FakePagerDuty, rules):
    return local_settings(
        simulator,
        db,
        warroom_triage_rules=rules,
        pagerduty_webhook_secrets=SECRET,
        **pd_settings(pd),
    )


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "triage.yaml"
    path.write_text(RULES)
    return path


@pytest.fixture
def app(simulator, db, pd, rules, clock) -> Iterator[LocalWarroom]:
    warroom = LocalWarroom(simulator, settings(simulator, db, pd, rules))
    yield warroom
    warroom.stop()


def deliver(app: LocalWarroom, body: bytes, delivery: str) -> int:
    return send_delivery(app.server.url, body, delivery, SECRET)


def low_alert(n: int, service: str = "Search") -> bytes:
    return pd_body(
        pd_id=f"QLOW{n:04d}", key=f"low-{n}", title=f"Latency {n} high", service=service, urgency="low"
    )


def take_over(app: LocalWarroom, clock) -> None:
    """The crashed owner's lease runs out; another claim takes its job over."""
    app.settle()
    clock.at += LEASE + timedelta(seconds=1)
    app.deps.jobs.wake()
    for _ in range(3):  # a job, the jobs it records, theirs
        app.settle()


def texts(app: LocalWarroom, channel: str, saying: str) -> list[str]:
    return [m["text"] for m in app.sim.channel(channel)["messages"] if saying in m["text"]]


def job_states() -> dict[str, str]:
    return {job.key: job.state for job in in_session(lambda s: list(s.exec(select(Job))))}


def looked_for_posts(app: LocalWarroom) -> bool:
    return any(call.args.get("include_all_metadata") for call in app.sim.calls_to("conversations.history"))


# --- webhook deliveries and what they show -------------------------------------------------------


def test_a_delivery_stored_before_a_crash_is_processed_after_the_restart(simulator, db, pd, rules):
    # What the ack path of a process that died right after answering PagerDuty left behind:
    assert in_session(store_and_record, [("d-crash", low_alert(1).decode())], wall.now())
    restarted = LocalWarroom(simulator, settings(simulator, db, pd, rules))
    try:
        for _ in range(2):
            restarted.settle()
        assert len(texts(restarted, "C0GENERAL", "Latency 1 high")) == 1
        assert set(job_states().values()) == {"done"}
    finally:
        restarted.stop()


@pytest.mark.parametrize("point", ["alerts.batch_committed", "alerts.notice_posted"])
def test_a_crash_at_either_step_of_a_notice_posts_it_exactly_once(app, clock, point):
    faults.arm(point)
    assert deliver(app, low_alert(1), "d1") == 202
    take_over(app, clock)
    assert len(texts(app, "C0GENERAL", "Latency 1 high")) == 1
    assert set(job_states().values()) == {"done"}
    assert deliver(app, low_alert(1), "d1") == 200  # PagerDuty's retry of the delivery changes nothing
    app.settle()
    assert len(texts(app, "C0GENERAL", "Latency 1 high")) == 1
    if point == "alerts.notice_posted":
        assert looked_for_posts(app), "the takeover looked for its notice before posting"


def test_a_notice_slack_refuses_does_not_hold_up_the_others_of_its_batch(app):
    for n, service in ((1, "Search"), (2, "Gone Service"), (3, "Search")):
        assert deliver(app, low_alert(n, service), f"d{n}") == 202
    for _ in range(2):
        app.settle()
    assert len(texts(app, "C0GENERAL", "Latency 1 high")) == 1
    assert len(texts(app, "C0GENERAL", "Latency 3 high")) == 1
    with session_scope() as session:
        alerts = {a.title: a.id for a in session.exec(select(Alert))}
    states = job_states()
    assert states[f"alert:{alerts['Latency 2 high']}:notice"] in ("queued", "failed")  # retried later, alone
    assert states[f"alert:{alerts['Latency 1 high']}:notice"] == "done"


def test_two_replicas_given_the_same_deliveries_show_each_alert_once(simulator, db, pd, rules, app):
    other = LocalWarroom(simulator, settings(simulator, db, pd, rules))
    try:
        bodies = [(low_alert(n), f"d{n}") for n in range(8)]
        high = pd_body(pd_id="QHIGH0001", key="checkout-5xx", number=4211)
        bodies.append((high, "d-high"))
        with ThreadPoolExecutor(8) as pool:  # PagerDuty retrying each delivery at the other replica
            statuses = list(pool.map(lambda a: deliver(*a), [(r, *b) for b in bodies for r in (app, other)]))
        assert sorted(statuses).count(202) == len(bodies)
        for _ in range(4):
            app.settle()
            other.settle()
        for n in range(8):
            assert len(texts(app, "C0GENERAL", f"Latency {n} high")) == 1
        with session_scope() as session:
            assert len(session.exec(select(Incident)).all()) == 1
            assert len(session.exec(select(PagerDutyLink)).all()) == 1
            assert sum(a.count for a in session.exec(select(Alert))) == 9
    finally:
        other.stop()


# --- the war room an alert opens: re-triggers, pages, resolving ------------------------------------


def open_room(app: LocalWarroom, pd: FakePagerDuty) -> str:
    """PagerDuty opens an incident from a monitoring alert; Warroom opens its war room."""
    pd.add_incident(pd_event()["event"]["data"])
    assert deliver(app, pd_body(), "t1") == 202
    for _ in range(3):
        app.settle()
    with session_scope() as session:
        channel = session.exec(select(Incident)).one().channel_id
    assert channel is not None
    return channel


def run(app: LocalWarroom, text: str, room: str, user: str = "U0BOB") -> None:
    app.command(text, user=user, channel=room)
    for _ in range(2):
        app.settle()


@pytest.mark.parametrize("point", ["alerts.batch_committed", "alerts.line_posted"])
def test_a_retrigger_joining_the_open_room_is_told_there_once(app, pd, clock, point):
    room = open_room(app, pd)
    run(app, "resolve fixed", room)
    app.sim.clear_calls()
    faults.arm(point)
    again = {"pd_id": "Q1CHK5XX0002", "number": 4212}
    pd.add_incident(pd_event(**again)["event"]["data"])
    assert deliver(app, pd_body(**again), "t2") == 202
    take_over(app, clock)
    assert len(texts(app, room, "triggered again as")) == 1
    assert set(job_states().values()) <= {"done", "failed"} and "queued" not in job_states().values()


PAGE_POINTS = ["page.recorded_job", "page.sent", "page.recorded", "page.posted"]


@pytest.mark.parametrize("point", PAGE_POINTS)
def test_a_page_crashed_at_any_step_pages_once_links_once_and_is_said_once(app, pd, clock, point):
    room = open_room(app, pd)
    run(app, "ic <@U0BOB|bob>", room)  # Warroom is the alert's IC until someone in the room takes over
    pd.requests.clear()
    faults.arm(point)
    run(app, 'page "Orders DB" replication lag', room)
    take_over(app, clock)
    creates = [r for r in pd.requests if r.method == "POST"]
    assert len(creates) == 1
    assert [i["incident_key"] for i in pd.incidents.values()].count("warroom-INC-1-PSVC002") == 1
    with session_scope() as session:
        [page] = session.exec(select(Page)).all()
        links = session.exec(select(PagerDutyLink).where(PagerDutyLink.page_id == page.id)).all()
        paged = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "paged")).all()
    assert page.pd_incident_id is not None and len(links) == 1 and len(paged) == 1
    assert len(texts(app, room, "paged the on-call of Orders DB: Bob Baker")) == 1
    if point == "page.sent":
        looked = [r for r in pd.requests if r.method == "GET" and r.path == "/incidents"]
        assert looked, "the retry asked PagerDuty for the incident under its key before writing"


RESOLVE_POINTS = ["resolve.sent", "resolve.recorded", "alerts.line_posted"]


@pytest.mark.parametrize("point", RESOLVE_POINTS)
def test_resolving_crashed_at_any_step_resolves_each_link_once_and_tells_the_room_once(app, pd, clock, point):
    room = open_room(app, pd)
    run(app, "ic <@U0BOB|bob>", room)
    run(app, "page checkout", room)
    assert len(pd.incidents) == 2
    pd.requests.clear()
    faults.arm(point)
    run(app, "resolve rolled back", room)
    take_over(app, clock)
    writes = [r.path for r in pd.requests if r.method == "PUT"]
    assert sorted(writes) == sorted(f"/incidents/{pd_id}" for pd_id in pd.incidents)  # each once
    assert {i["status"] for i in pd.incidents.values()} == {"resolved"}
    [told] = texts(app, room, "Resolved in PagerDuty")
    assert told.count("PagerDuty incident") == 2 and "Already resolved" not in told
    with session_scope() as session:
        events = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "pagerduty_resolved")).all()
        assert len(events) == 1
        assert {link.status for link in session.exec(select(PagerDutyLink))} == {"resolved"}
    assert set(job_states().values()) == {"done"}
