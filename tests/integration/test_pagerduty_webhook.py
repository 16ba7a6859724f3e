"""PagerDuty webhooks v3: signatures, durable de-duplicated deliveries, triage into incidents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from sqlmodel import select

from bot.http.runner import free_port
from bot.http.signing import pagerduty_signature
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Alert, Incident, Page, TimelineEvent, WebhookDelivery
from storage.session import session_scope
from tests.pagerduty import pd_body

SECRET, OLD = "whsec_new", "whsec_old"
RULES = """
rules:
  - name: checkout-errors
    match: {service: "Checkout*", title: "*5xx*", urgency: high}
    triage: high
    severity: 2
  - name: disk
    match: {title: "Disk usage*"}
    triage: ignore
default: low
default_notice_channel: C0GENERAL
"""


def test_worked_example_signature():
    body = b'{"event":{"id":"01DEMO","event_type":"incident.triggered"}}'
    assert pagerduty_signature("whsec_example_only", body) == (
        "v1=3691248360d20d0437732fce570b6decbe2a0b4d314e51be1dd270bfa6ab729d"
    )


@pytest.fixture
def app(simulator, db, tmp_path):
    rules = tmp_path / "triage.yaml"
    rules.write_text(RULES)
    warroom = LocalWarroom(
        simulator,
        local_settings(
            simulator, db, warroom_triage_rules=rules, pagerduty_webhook_secrets=f"{SECRET},{OLD}"
        ),
    )
    yield warroom
    warroom.stop()


def deliver(
    app, body: bytes, delivery: str, *, secrets=(SECRET,), signature: str | None = None
) -> httpx.Response:
    header = signature if signature is not None else ", ".join(pagerduty_signature(s, body) for s in secrets)
    return httpx.post(
        f"{app.server.url}/pagerduty/webhook",
        content=body,
        headers={
            "content-type": "application/json",
            "x-pagerduty-signature": header,
            "x-webhook-id": delivery,
            "user-agent": "PagerDuty-Webhook/V3.0",
        },
    )


def rows(model):
    with session_scope() as session:
        return list(session.exec(select(model)))


@pytest.mark.parametrize(
    ("secrets", "status"),
    [((SECRET,), 202), ((OLD,), 202), (("whsec_unknown", SECRET), 202), (("whsec_unknown",), 401), ((), 401)],
    ids=["current", "old-during-rotation", "two-entries", "wrong", "unsigned"],
)
def test_any_valid_signature_passes_and_others_get_401(app, secrets, status):
    assert deliver(app, pd_body(), "d1", secrets=secrets).status_code == status
    app.settle()
    assert len(rows(WebhookDelivery)) == (1 if status == 202 else 0)


def test_a_tampered_body_is_refused(app):
    body = pd_body()
    signature = pagerduty_signature(SECRET, body)
    assert deliver(app, body.replace(b"Checkout", b"Checkoot"), "d1", signature=signature).status_code == 401
    assert rows(WebhookDelivery) == [] and rows(Alert) == []


def test_without_secrets_the_endpoint_refuses(simulator, db):
    app = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        assert deliver(app, pd_body(), "d1").status_code == 503
    finally:
        app.stop()


def test_bad_bodies_get_clear_statuses(app):
    assert deliver(app, b"not json", "d1").status_code == 400
    assert deliver(app, b'{"no": "event"}', "d2").status_code == 400
    assert deliver(app, b"x" * (300 * 1024), "d3").status_code == 413
    assert deliver(app, pd_body(), "").status_code == 400
    assert rows(WebhookDelivery) == []


def test_a_high_alert_opens_one_incident_with_its_runbook_however_often_delivered(app):
    for attempt in range(3):
        assert deliver(app, pd_body(), "d1").status_code == (202 if attempt == 0 else 200)
    app.settle()
    [incident] = rows(Incident)
    [alert] = rows(Alert)
    assert (incident.title, incident.severity, alert.incident_id, alert.triage, alert.count) == (
        "Checkout 5xx rate above 5%",
        2,
        incident.id,
        "high",
        1,
    )
    channel = app.sim.channel(incident.channel_id)
    runbooks = [m["text"] for m in channel["messages"] if m["text"].startswith("Runbook:")]
    assert runbooks == [
        "Runbook: Checkout returns 5xx after a deploy (alert Checkout 5xx*, keywords checkout, 5xx)"
    ]


def test_repeats_collapse_and_acknowledge_and_resolve_reach_the_war_room(app):
    deliver(app, pd_body(), "d1")
    deliver(app, pd_body(), "d2")
    app.settle()
    deliver(app, pd_body("incident.acknowledged", agent="Alice"), "d3")
    deliver(app, pd_body("incident.resolved", agent="Alice"), "d4")
    app.settle()
    [alert] = rows(Alert)
    assert alert.count == 2 and alert.status == "resolved" and alert.acknowledged_at is not None
    kinds = [e.kind for e in rows(TimelineEvent)]
    assert "alert_acknowledged" in kinds and "alert_resolved" in kinds
    [incident] = rows(Incident)
    lines = [m["text"] for m in app.sim.channel(incident.channel_id)["messages"]]
    assert ":pager: PagerDuty: Checkout 5xx rate above 5% acknowledged by Alice" in lines


def test_low_alerts_notify_and_ignored_ones_are_only_counted(app):
    deliver(app, pd_body(key="slow", title="Search p99 high", service="Search", urgency="low"), "d1")
    deliver(app, pd_body(key="disk", title="Disk usage 85% on worker-3", service="Workers"), "d2")
    app.settle()
    assert rows(Incident) == []
    assert [a.triage for a in sorted(rows(Alert), key=lambda a: a.id)] == ["low", "ignore"]
    [notice] = app.sim.channel("C0GENERAL")["messages"]
    assert notice["text"] == (
        ":bell: Low-urgency PagerDuty alert on *Search*: Search p99 high (not paged by Warroom)"
    )
    low = next(a for a in rows(Alert) if a.triage == "low")
    assert notice["metadata"]["event_payload"] == {"key": f"alert:{low.id}:notice"}  # found, not reposted


def test_unknown_event_types_are_accepted_and_ignored(app):
    body = json.dumps({"event": {"event_type": "service.updated", "data": {}}}).encode()
    assert deliver(app, body, "d1").status_code == 202
    app.settle()
    [delivery] = rows(WebhookDelivery)
    assert delivery.outcome == "ignored service.updated event" and rows(Alert) == []


def test_anyone_in_the_war_room_takes_over_from_warroom_as_ic(app):
    deliver(app, pd_body(), "d1")
    app.settle()
    [incident] = rows(Incident)
    app.command("ic <@U0BOB|bob>", user="U0BOB", channel=incident.channel_id)
    app.settle()
    assert rows(Incident)[0].commander_id == "U0BOB"


def test_a_malformed_event_is_set_aside_and_later_ones_still_processed(app):
    broken = json.dumps({"event": {"event_type": "incident.triggered", "data": {"title": "no id"}}}).encode()
    deliver(app, broken, "d1")
    deliver(app, pd_body(key="later", title="Search p99 high", service="Search"), "d2")
    app.settle()
    outcomes = sorted(d.outcome for d in rows(WebhookDelivery))
    assert outcomes == [
        "could not be processed: the event carries no incident id",
        "processed",
    ]
    assert [a.title for a in rows(Alert)] == ["Search p99 high"]


def test_warroom_s_own_page_is_not_a_new_alert_and_its_acknowledgement_reaches_the_room(app):
    app.command("declare sev2 Checkout 5xx for card payments")
    app.settle()
    [incident] = rows(Incident)
    with session_scope() as session:
        session.add(
            Page(
                incident_id=incident.id,
                incident_key="warroom-INC-1-PSVC001",
                service_id="PSVC001",
                service_name="Checkout API",
                pd_incident_id="Q0PAGE",
                paged_by="U0ALICE",
                paged_at=incident.declared_at,
            )
        )
    own = {"key": "warroom-INC-1-PSVC001", "title": "INC-1 SEV2: Checkout 5xx for card payments"}
    deliver(app, pd_body(pd_id="Q0PAGE", **own), "p1")
    deliver(app, pd_body("incident.acknowledged", pd_id="Q0PAGE", agent="Bob", **own), "p2")
    app.settle()
    assert len(rows(Incident)) == 1 and rows(Alert) == []
    said = [m["text"] for m in app.sim.channel(incident.channel_id)["messages"]]
    assert said[-1] == ":pager: PagerDuty: the page of Checkout API was acknowledged by Bob"
    assert "page_acknowledged" in [e.kind for e in rows(TimelineEvent)]
    assert all("Low-urgency" not in m["text"] for m in app.sim.channel("C0GENERAL")["messages"])


def test_starting_without_pagerduty_prints_no_pagerduty_traceback(tmp_path):
    """`warroom serve` with only Slack settings, Slack out of reach: nothing about PagerDuty on stderr."""
    port, slack = free_port(), free_port()  # nothing listens on `slack`
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-unreachable",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": f"http://127.0.0.1:{slack}/api/",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    for name in [n for n in env if n.startswith(("PAGERDUTY_", "WARROOM_"))]:
        del env[name]
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        time.sleep(0.5)  # the start-up jobs have run
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    assert "Application startup complete" in stderr
    assert "Traceback" not in stderr and "pagerduty" not in stderr.lower()
