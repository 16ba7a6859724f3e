"""A war room follows every PagerDuty incident linked to it: the alert's, its re-triggers, its pages.
PagerDuty's own sample deliveries (tests/data/pagerduty) go to the real app over signed HTTP; the
strict PagerDuty fake answers the resolves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.pagerduty import FakePagerDuty
from storage.models import Alert, Incident, Job, PagerDutyLink, TimelineEvent
from storage.session import session_scope
from tests.pagerduty import pd_body, pd_event, pd_settings, send_delivery

SECRET = "whsec_room"
RULES = """
rules:
  - name: checkout-errors
    match: {service: "Checkout*", title: "*5xx*", urgency: high}
    triage: high
    severity: 2
default: low
"""
FIRST = "https://acme.pagerduty.com/incidents/Q1CHK5XX0001"
AGAIN = "https://acme.pagerduty.com/incidents/Q1CHK5XX0002"


@pytest.fixture
def app(simulator, db, pd, tmp_path) -> Iterator[LocalWarroom]:
    rules = tmp_path / "triage.yaml"
    rules.write_text(RULES)
    settings = local_settings(
        simulator,
        db,
        warroom_triage_rules=rules,
        pagerduty_webhook_secrets=SECRET,
        **pd_settings(pd),
    )
    warroom = LocalWarroom(simulator, settings)
    yield warroom
    warroom.stop()


def deliver(app: LocalWarroom, body: bytes, delivery: str) -> int:
    status = send_delivery(app.server.url, body, delivery, SECRET)
    for _ in range(3):  # the delivery, the war room it opens, its runbooks
        app.settle()
    return status


def alert_fires(app: LocalWarroom, pd: FakePagerDuty, delivery: str = "t1", **changes) -> None:
    """PagerDuty opens an incident from a monitoring alert and tells Warroom."""
    pd.add_incident(pd_event(**changes)["event"]["data"])
    deliver(app, pd_body(**changes), delivery)


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident)).one()


def said(app: LocalWarroom) -> list[str]:
    return [m["text"] for m in app.sim.channel(incident().channel_id)["messages"]]


def kinds() -> list[str]:
    with session_scope() as session:
        return [e.kind for e in session.exec(select(TimelineEvent).order_by(TimelineEvent.id))]


def run(app: LocalWarroom, text: str, user: str = "U0BOB") -> None:
    app.command(text, user=user, channel=incident().channel_id)
    for _ in range(2):
        app.settle()


def resolves(pd: FakePagerDuty) -> list[str]:
    return [r.path for r in pd.requests if r.method == "PUT"]


def card_notes(app: LocalWarroom) -> list[str]:
    room = incident()
    [card] = [m for m in app.sim.channel(room.channel_id)["messages"] if m["ts"] == room.card_ts]
    [context] = [block for block in card["blocks"] if block["type"] == "context"]
    return [element["text"] for element in context["elements"]]


def test_the_room_an_alert_opens_links_its_pagerduty_incident_and_warroom_invites_nobody(app, pd):
    alert_fires(app, pd)
    assert f":pager: Opened from <{FIRST}|PagerDuty incident #4211>" in card_notes(app)
    assert app.sim.calls_to("conversations.invite") == []  # nobody declared it but Warroom
    run(app, "ic <@U0BOB|bob>")  # the card is rebuilt: the link stays
    assert f":pager: Opened from <{FIRST}|PagerDuty incident #4211>" in card_notes(app)


def test_a_retrigger_joins_the_open_room_and_resolving_resolves_the_new_pagerduty_incident(app, pd):
    alert_fires(app, pd)
    pd.incidents["Q1CHK5XX0001"]["status"] = "resolved"  # the monitor recovered; PagerDuty resolved it
    deliver(app, pd_body("incident.resolved", agent="Checkout API"), "r1")
    alert_fires(app, pd, "t2", pd_id="Q1CHK5XX0002", number=4212)  # it fires again: a new incident
    [room] = [incident()]  # never a second war room
    with session_scope() as session:
        [alert] = session.exec(select(Alert)).all()
    assert alert.count == 2 and alert.incident_id == room.id
    assert said(app)[-1] == (
        f":pager: PagerDuty: Checkout 5xx rate above 5% triggered again as <{AGAIN}|PagerDuty incident "
        "#4212>. Resolving INC-1 resolves it too."
    )
    assert "alert_retriggered" in kinds()
    run(app, "ic <@U0BOB|bob>")
    run(app, "resolve the pool size is back")
    assert resolves(pd) == ["/incidents/Q1CHK5XX0002"]  # not the one PagerDuty had resolved
    assert pd.incidents["Q1CHK5XX0002"]["status"] == "resolved"
    assert said(app)[-1] == (
        f":pager: Resolved in PagerDuty: <{AGAIN}|PagerDuty incident #4212> (Checkout 5xx rate above 5%)."
    )
    with session_scope() as session:  # recorded with the change that resolved the room, and done
        [job] = session.exec(select(Job).where(Job.kind == "pagerduty.resolve")).all()
    assert job.key.endswith(":pagerduty") and job.state == "done"
    before = len(said(app))
    deliver(app, pd_body("incident.resolved", pd_id="Q1CHK5XX0002", agent="Warroom"), "r2")
    assert len(said(app)) == before  # Warroom resolved it itself: nothing new to tell


def test_resolving_says_which_pagerduty_incidents_could_not_be_resolved(app, pd):
    alert_fires(app, pd)
    run(app, "ic <@U0BOB|bob>")
    run(app, 'page "Orders DB" orders look slow')
    [page] = [i for i in pd.incidents.values() if i["incident_key"].startswith("warroom-")]
    pd.fail(1, 403)  # the first resolve: the alert's incident
    run(app, "resolve")
    assert resolves(pd) == ["/incidents/Q1CHK5XX0001", f"/incidents/{page['id']}"]
    assert said(app)[-1] == (
        f":pager: Resolved in PagerDuty: <{page['html_url']}|PagerDuty incident #{page['incident_number']}> "
        "(the page of Orders DB).\n"
        f"Could not resolve <{FIRST}|PagerDuty incident #4211> (Checkout 5xx rate above 5%): PagerDuty does "
        "not let this API token do that (403 while resolving the incident). Resolve it in PagerDuty."
    )
    with session_scope() as session:
        statuses = {link.pd_incident_id: link.status for link in session.exec(select(PagerDutyLink))}
    assert statuses == {"Q1CHK5XX0001": "triggered", page["id"]: "resolved"}


def test_reopened_unacknowledged_and_a_new_priority_are_told_once_each(app, pd):
    alert_fires(app, pd)
    for kind, delivery in (
        ("incident.acknowledged", "a1"),
        ("incident.priority_updated", "p1"),
        ("incident.unacknowledged", "u1"),
        ("incident.resolved", "r1"),
        ("incident.reopened", "o1"),
    ):
        assert deliver(app, pd_body(kind), delivery) == 202
        assert deliver(app, pd_body(kind), delivery) == 200  # PagerDuty retried the delivery
    link = f"<{FIRST}|PagerDuty incident #4211> (Checkout 5xx rate above 5%)"
    assert said(app)[-5:] == [
        ":pager: PagerDuty: Checkout 5xx rate above 5% acknowledged by Alice Archer",
        f":pager: {link} is now priority P1 (set by Alice Archer)",
        f":pager: {link} is no longer acknowledged (by Alice Archer)",
        ":pager: PagerDuty: Checkout 5xx rate above 5% resolved by Alice Archer",
        f":pager: {link} was reopened by Alice Archer",
    ]
    assert kinds()[-5:] == [
        "alert_acknowledged",
        "alert_priority_updated",
        "alert_unacknowledged",
        "alert_resolved",
        "alert_reopened",
    ]
    with session_scope() as session:
        timeline = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "alert_reopened")).one()
    assert timeline.text == (
        "PagerDuty incident #4211 (Checkout 5xx rate above 5%) was reopened by Alice Archer"
    )
    run(app, "ic <@U0BOB|bob>")
    run(app, "resolve")  # reopened: open again, so resolved with the room
    assert resolves(pd) == ["/incidents/Q1CHK5XX0001"]


def test_a_retrigger_while_the_room_is_resolved_says_how_to_reopen(app, pd):
    alert_fires(app, pd)
    run(app, "ic <@U0BOB|bob>")
    run(app, "resolve")
    alert_fires(app, pd, "t2", pd_id="Q1CHK5XX0002", number=4212)
    assert said(app)[-1] == (
        f":pager: PagerDuty: Checkout 5xx rate above 5% triggered again as <{AGAIN}|PagerDuty incident "
        "#4212>. INC-1 is resolved: if the problem is back, `/incident reopen`."
    )
    run(app, "reopen")
    run(app, "resolve")
    assert resolves(pd) == ["/incidents/Q1CHK5XX0001", "/incidents/Q1CHK5XX0002"]


def test_a_retrigger_after_the_room_closed_is_counted_but_not_followed(app, pd):
    alert_fires(app, pd)
    with session_scope() as session:
        room = session.exec(select(Incident)).one()
        room.status, room.resolved_at, room.closed_at = "resolved", room.declared_at, room.declared_at
    before = len(said(app))
    alert_fires(app, pd, "t2", pd_id="Q1CHK5XX0002", number=4212)
    assert len(said(app)) == before
    with session_scope() as session:
        assert session.exec(select(Alert)).one().count == 2
        assert [link.pd_incident_id for link in session.exec(select(PagerDutyLink))] == ["Q1CHK5XX0001"]


def test_a_link_that_could_break_out_of_slack_markup_is_not_linked(app, pd):
    body = pd_event()
    body["event"]["data"]["html_url"] = "https://evil.example/x|<!channel>"
    pd.add_incident(body["event"]["data"])
    deliver(app, json.dumps(body).encode(), "t1")
    assert ":pager: Opened from PagerDuty incident #4211" in card_notes(app)
