"""Outgoing webhooks end to end: Slack commands change an incident, a receiver that checks every
signature with the Standard Webhooks library gets each event once, in order; retries with
backoff, a receiver down for an hour, giving up after 24 hours, redaction of private incidents,
event filters, the allowlist, the delivery log and replay."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.cli import cli
from bot.deps import Deps
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.receiver import WebhookReceiver
from bot.webhooks.progress import GIVE_UP_AFTER
from bot.webhooks.subscriptions import BadSubscriptions
from storage.models import Incident, WebhookSend
from storage.session import in_session, session_scope
from tests.waiting import wait_for

SECRET = "whsec_" + base64.b64encode(b"warroom-webhook-secret-for-tests").decode()


@pytest.fixture
def receiver():
    fake = WebhookReceiver(SECRET)
    fake.start()
    yield fake
    fake.stop()


def endpoints(tmp_path, receiver, *extra: str) -> str:
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "endpoints:\n"
        f"  - name: warehouse\n    url: {receiver.url}\n    secret_env: WAREHOUSE_SECRET\n" + "".join(extra)
    )
    return str(path)


@pytest.fixture
def app(simulator, db, tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_SECRET", SECRET)
    settings = local_settings(
        simulator,
        db,
        warroom_webhooks=endpoints(tmp_path, receiver),
        warroom_webhook_hosts=[receiver.host],
        warroom_webhook_http_hosts=["127.0.0.1"],
    )
    warroom = LocalWarroom(simulator, settings)
    yield warroom
    warroom.stop()


def types(receiver) -> list[str]:
    return [event["type"] for event in receiver.received.events]


def run_incident(app) -> str:
    app.command("declare sev3 Checkout returns 500s")
    app.settle()
    room = in_session(lambda s: s.exec(select(Incident)).one()).channel_id
    for change in ("sev 1", "status identified", "resolve rolled back to v41"):
        app.command(change, channel=room)
        app.settle()  # one after another, as people type them
    return room


def sends(endpoint: str = "warehouse") -> list[WebhookSend]:
    return in_session(
        lambda s: list(
            s.exec(select(WebhookSend).where(WebhookSend.endpoint == endpoint).order_by(WebhookSend.id))
        )
    )


def test_each_event_arrives_once_in_order_signed(app, receiver):
    run_incident(app)
    expected = [
        "incident.declared",
        "incident.severity_changed",
        "incident.status_changed",
        "incident.resolved",
    ]
    wait_for(lambda: len(receiver.received.events) >= len(expected))
    time.sleep(1)  # nothing more, nothing twice
    seen = receiver.received
    assert types(receiver) == expected
    assert seen.bad_signatures == 0 and seen.repeats == 0
    assert len(set(seen.ids)) == len(seen.ids)
    declared = seen.events[0]["data"]
    assert declared["incident"]["ref"] == "INC-1" and declared["incident"]["title"] == "Checkout returns 500s"
    severity = next(e for e in seen.events if e["type"] == "incident.severity_changed")["data"]["event"]
    assert severity["data"] == {"from": 3, "to": 1} and severity["actor"] == "U0ALICE"
    assert all(s.outcome == "delivered" and s.status == 204 for s in sends())


def test_a_failing_receiver_is_retried_with_backoff_and_order_holds(clock, app, receiver):
    receiver.down = True
    run_incident(app)
    wait_for(lambda: sends())
    quick = sends()  # a blip is tried again at once, then after 0.02, 0.1, 0.25, 0.5 and 1 s
    assert [(s.outcome, s.status, s.attempt) for s in quick] == [("failed", 503, n) for n in range(1, 8)]
    assert {s.event_id for s in quick} == {quick[0].event_id}
    time.sleep(1)
    assert len(sends()) == 7, "then it waits for its backoff before trying again"
    for _ in range(6):  # the receiver is down for an hour: attempts at growing intervals
        clock.at += timedelta(minutes=10)
        tried = len(sends())
        wait_for(lambda tried=tried: len(sends()) > tried)
    assert [s.attempt for s in sends()] == list(range(1, 14))
    receiver.down = False
    clock.at += timedelta(hours=1)
    wait_for(lambda: "incident.resolved" in types(receiver))
    assert types(receiver)[0] == "incident.declared"
    assert receiver.received.repeats == 0
    delivered = len(receiver.received.events)  # the log records deliveries a moment later, together
    wait_for(lambda: len({s.event_id for s in sends() if s.outcome == "delivered"}) == delivered)


def test_an_event_is_given_up_after_a_day_and_the_next_ones_go(clock, app, receiver):
    receiver.down = True
    app.command("declare sev3 Checkout returns 500s")
    app.settle()
    wait_for(lambda: sends())
    clock.at += GIVE_UP_AFTER + timedelta(minutes=1)
    wait_for(lambda: any(s.outcome == "gave_up" for s in sends()))
    receiver.down = False
    room = in_session(lambda s: s.exec(select(Incident)).one()).channel_id
    app.command("sev 2", channel=room)
    app.settle()
    wait_for(lambda: "incident.severity_changed" in types(receiver))
    assert "incident.declared" not in types(receiver)


def test_private_incidents_are_redacted_for_an_endpoint_not_allowed_them(
    simulator, db, tmp_path, receiver, monkeypatch
):
    other = WebhookReceiver(SECRET)
    other.start()
    monkeypatch.setenv("WAREHOUSE_SECRET", SECRET)
    insiders = (
        f"  - name: legal\n    url: {other.url}\n    secret_env: WAREHOUSE_SECRET\n"
        "    private: true\n    events: [incident.declared]\n"
    )
    settings = local_settings(
        simulator,
        db,
        warroom_webhooks=endpoints(tmp_path, receiver, insiders),
        warroom_webhook_hosts=[receiver.host, other.host],
        warroom_webhook_http_hosts=["127.0.0.1"],
    )
    app = LocalWarroom(simulator, settings)
    try:
        app.command("declare sev2 Acquisition of Initech leaks", trigger_id="1.1.private")
        app.settle()
        with session_scope() as session:  # made private after the declaration (as the room's form can)
            incident = session.exec(select(Incident)).one()
            incident.private = True
            session.add(incident)
        room = incident.channel_id
        app.command("sev 1", channel=room)
        app.settle()
        wait_for(lambda: "incident.severity_changed" in types(receiver))
        redacted = next(e for e in receiver.received.events if e["type"] == "incident.severity_changed")[
            "data"
        ]
        assert redacted["redacted"] is True and redacted["incident"]["title"] == "Private incident"
        assert redacted["event"]["text"] == "" and redacted["incident"]["channel_id"] is None
        wait_for(lambda: other.received.events)
        assert [e["type"] for e in other.received.events] == ["incident.declared"]
    finally:
        app.stop()
        other.stop()


def test_a_host_not_allowlisted_is_never_called(simulator, db, tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_SECRET", SECRET)
    settings = local_settings(
        simulator,
        db,
        warroom_webhooks=endpoints(tmp_path, receiver),
        warroom_webhook_hosts=["hooks.example.com"],
    )
    app = LocalWarroom(simulator, settings)
    try:
        app.command("declare sev3 Checkout returns 500s")
        app.settle()
        wait_for(lambda: sends())
        assert "not in the webhook allowlist (WARROOM_WEBHOOK_HOSTS)" in sends()[0].detail
        assert receiver.received.attempts == 0
    finally:
        app.stop()


def test_the_delivery_log_and_replay_from_the_command_line(app, receiver, db, monkeypatch):
    run_incident(app)
    wait_for(lambda: "incident.resolved" in types(receiver))
    delivered = len(receiver.received.events)
    monkeypatch.setenv("DATABASE_URL", db)
    runner = CliRunner()
    log = runner.invoke(cli, ["webhooks", "deliveries", "--endpoint", "warehouse"])
    assert log.exit_code == 0, log.output
    assert "incident.resolved" in log.output and "delivered" in log.output
    replay = runner.invoke(cli, ["webhooks", "replay", "--since", "1h", "--endpoint", "warehouse"])
    assert replay.exit_code == 0, replay.output
    assert "warehouse" in replay.output
    wait_for(lambda: receiver.received.repeats >= delivered)
    assert len(receiver.received.events) == delivered  # the same ids: the receiver drops them


def test_a_bad_webhooks_file_stops_start_up_naming_the_field(simulator, db, tmp_path, monkeypatch):
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "endpoints:\n  - name: w\n    url: https://hooks.example.com/x\n    secret_env: NOPE\n"
        "    events: [incident.exploded]\n"
    )

    with pytest.raises(BadSubscriptions, match=r"endpoints\.0\.events: .*matches no event type"):
        Deps.from_settings(local_settings(simulator, db, warroom_webhooks=str(path)))
    path.write_text("endpoints:\n  - name: w\n    url: https://hooks.example.com/x\n    secret_env: NOPE\n")
    with pytest.raises(BadSubscriptions, match="NOPE must hold a whsec_ secret"):
        Deps.from_settings(local_settings(simulator, db, warroom_webhooks=str(path)))
