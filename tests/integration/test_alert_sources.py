"""Alertmanager, Grafana and the signed generic webhook over HTTP: authentication as each sender
does it, refusals that store nothing, de-duplication by fingerprint, resolution, triage."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.http.signing import webhook_signature
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Alert, AlertEvent, Incident, Page, TimelineEvent, WebhookDelivery
from storage.session import session_scope
from tests.pagerduty import pd_settings

SAMPLES = Path(__file__).parents[1] / "data" / "alerts"
TOKEN, GRAFANA, SECRET = "am-token-1", "grafana-token-1", "whk-secret-1"
RULES = """
rules:
  - name: checkout-critical
    match: {source: alertmanager, alert: HighErrorRate, labels: {severity: critical, namespace: prod}}
    triage: high
  - name: blue-team
    match: {source: grafana, labels: {team: blue}}
    triage: low
    channel: C0BLUE
    mention: S0BLUETEAM
  - name: deploys
    match: {source: deploy-bot}
    triage: info
default_notice_channel: C0GENERAL
info_channel: C0INFO
"""


NAIVE = {"status": "firing", "startsAt": "2026-11-24T03:00:00"}


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def app(simulator, db, tmp_path):
    rules = tmp_path / "triage.yaml"
    rules.write_text(RULES)
    for name, channel in (("team-blue", "C0BLUE"), ("alerts-info", "C0INFO")):
        simulator.add_channel(name, channel_id=channel, members=[simulator.bot_user_id])
    settings = local_settings(
        simulator,
        db,
        warroom_triage_rules=rules,
        warroom_alertmanager_token=TOKEN,
        warroom_grafana_token=GRAFANA,
        warroom_webhook_secrets=f"old-secret,{SECRET}",
    )
    warroom = LocalWarroom(simulator, settings)
    yield warroom
    warroom.stop()


def post(app, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **headers}
    return httpx.post(f"{app.server.url}{path}", content=content, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {"x-warroom-timestamp": stamp, "x-warroom-signature": webhook_signature(secret, stamp, body)}


def rows(model):
    with session_scope() as session:
        return list(session.exec(select(model).order_by(model.id)))


def test_an_alertmanager_group_opens_one_incident_per_alert_however_often_it_is_sent(app):
    for attempt in range(3):  # Alertmanager's retry, then its repeat notification
        answer = post(app, "/alerts/alertmanager", sample("alertmanager_firing"), **bearer(TOKEN))
        assert answer.status_code == (202 if attempt == 0 else 200), answer.text
    app.settle()
    alerts = rows(Alert)
    assert [(a.dedup_key, a.source, a.name, a.triage, a.rule, a.count) for a in alerts] == [
        ("alertmanager:441a5259d6db43e3", "alertmanager", "HighErrorRate", "high", "checkout-critical", 1),
        ("alertmanager:761fcd65d9df6cce", "alertmanager", "HighErrorRate", "high", "checkout-critical", 1),
    ]
    assert alerts[0].labels["instance"] == "checkout-7d9f8b6c4-2xkqp:8080"
    [incident] = rows(Incident)  # one notification group, one problem: one war room
    assert (incident.title, incident.severity) == ("Checkout is serving HTTP 5xx errors", 1)
    assert {a.incident_id for a in alerts} == {incident.id}
    opened = [e for e in rows(TimelineEvent) if e.kind == "alert"]
    assert [e.text for e in opened] == [
        "Alertmanager alert: Checkout is serving HTTP 5xx errors",
        "Alertmanager alert of the same group: Checkout is serving HTTP 5xx errors",
    ]
    assert [link["text"] for link in opened[0].data["links"]] == ["graph", "runbook"]
    room = app.sim.channel(incident.channel_id)
    assert room["name"].startswith("inc-")
    blocks = [m for m in room["messages"] if m["text"].startswith(":rotating_light: Alertmanager alert:")]
    assert len(blocks) == 2  # each alert of the group, with its own buttons
    block = blocks[0]
    assert "<https://runbooks.example.com/checkout/high-error-rate|runbook>" in block["text"]
    buttons = [e["text"]["text"] for b in block["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Acknowledge", "Mark as noise…", "Downgrade to low…", "Route to…"]


def test_a_group_sent_again_with_one_more_alert_counts_only_the_new_one(app):
    post(app, "/alerts/alertmanager", sample("alertmanager_firing"), **bearer(TOKEN))
    grown = sample("alertmanager_firing")
    third = copy.deepcopy(grown["alerts"][0]) | {"fingerprint": "0123456789abcdef"}
    third["labels"] = third["labels"] | {"instance": "checkout-7d9f8b6c4-9zzzz:8080"}
    grown["alerts"].append(third)
    assert post(app, "/alerts/alertmanager", grown, **bearer(TOKEN)).status_code == 202
    app.settle()
    assert [a.count for a in rows(Alert)] == [1, 1, 1]
    assert len(rows(Incident)) == 1  # the third joined its group's war room
    assert len([e for e in rows(AlertEvent) if e.kind == "triggered"]) == 3


def test_a_resolved_group_resolves_its_alerts_and_tells_the_war_room_once(app):
    post(app, "/alerts/alertmanager", sample("alertmanager_firing"), **bearer(TOKEN))
    app.settle()
    for _ in range(2):
        post(app, "/alerts/alertmanager", sample("alertmanager_resolved"), **bearer(TOKEN))
    app.settle()
    alerts = rows(Alert)
    assert [a.status for a in alerts] == ["resolved", "resolved"]
    assert alerts[0].resolved_at.isoformat().startswith("2026-11-24T03:41:15")
    room = app.sim.channel(rows(Incident)[0].channel_id)
    lines = [m["text"] for m in room["messages"] if "resolved" in m["text"]]
    assert sorted(lines) == [  # each its own post, in whichever order they reach Slack
        ":white_check_mark: Alertmanager: Checkout is serving HTTP 5xx errors resolved (1 more still firing)",
        ":white_check_mark: Alertmanager: Checkout is serving HTTP 5xx errors resolved"
        " (every alert of INC-1 has resolved)",
    ]


def test_an_alert_firing_again_after_it_resolved_is_a_new_hit_and_its_room_hears_of_it(app):
    post(app, "/alerts/alertmanager", sample("alertmanager_firing"), **bearer(TOKEN))
    post(app, "/alerts/alertmanager", sample("alertmanager_resolved"), **bearer(TOKEN))
    app.settle()
    again = sample("alertmanager_firing")
    for alert in again["alerts"]:
        alert["startsAt"] = "2026-11-24T04:10:00Z"
    post(app, "/alerts/alertmanager", again, **bearer(TOKEN))
    app.settle()
    assert [(a.count, a.status) for a in rows(Alert)] == [(2, "triggered"), (2, "triggered")]
    assert len(rows(Incident)) == 1  # the open room follows its alerts; no second room
    room = app.sim.channel(rows(Incident)[0].channel_id)
    assert any(m["text"].endswith("is firing again") for m in room["messages"])


def test_basic_auth_with_the_token_as_password_is_accepted(app):
    basic = base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()
    answer = post(app, "/alerts/alertmanager", sample("alertmanager_firing"), authorization=f"Basic {basic}")
    assert answer.status_code == 202


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Token {TOKEN}", "Basic !!!", "Basic " + base64.b64encode(b"am:wrong").decode()],
    ids=["none", "wrong-token", "other-scheme", "bad-base64", "wrong-password"],
)
def test_bad_credentials_get_401_and_store_nothing(app, authorization):
    headers = {"authorization": authorization} if authorization else {}
    assert post(app, "/alerts/alertmanager", sample("alertmanager_firing"), **headers).status_code == 401
    assert post(app, "/alerts/grafana", sample("grafana_firing"), **bearer(TOKEN)).status_code == 401
    assert rows(WebhookDelivery) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not an alert"),
        (b'{"status": "firing"}', "alerts"),
        (json.dumps({"status": "firing", "alerts": []}).encode(), "no alerts"),
        (json.dumps({"status": "firing", "alerts": [{"status": "on fire"}]}).encode(), "alerts.0.status"),
        (json.dumps({"status": "firing", "alerts": [NAIVE]}).encode(), "zone"),
        (b"\xff\xfe", "UTF-8"),
    ],
    ids=["not-json", "no-alerts-key", "empty", "bad-status", "naive-time", "not-utf8"],
)
def test_malformed_bodies_get_400_and_store_nothing(app, body, reason):
    answer = post(app, "/alerts/alertmanager", body, **bearer(TOKEN))
    assert answer.status_code == 400 and reason in answer.json()["message"]
    assert rows(WebhookDelivery) == []


def test_a_body_over_one_megabyte_gets_413(app):
    big = sample("alertmanager_firing")
    big["commonAnnotations"]["description"] = "x" * (1024 * 1024)
    assert post(app, "/alerts/alertmanager", big, **bearer(TOKEN)).status_code == 413
    assert rows(WebhookDelivery) == []


def test_a_source_without_a_secret_is_disabled(simulator, db):
    app = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        for path in ("/alerts/alertmanager", "/alerts/grafana", "/alerts/webhook"):
            answer = post(app, path, sample("alertmanager_firing"), **bearer(TOKEN))
            assert answer.status_code == 404 and "not enabled" in answer.json()["message"]
        assert rows(WebhookDelivery) == []
    finally:
        app.stop()


def test_grafana_alerts_route_to_their_team_channel_with_a_mention(app):
    assert post(app, "/alerts/grafana", sample("grafana_firing"), **bearer(GRAFANA)).status_code == 202
    app.settle()
    alerts = rows(Alert)
    assert [(a.source, a.name, a.triage, a.incident_id) for a in alerts] == [
        ("grafana", "High memory usage", "low", None),
        ("grafana", "High CPU usage", "low", None),
    ]
    texts = [m["text"] for m in app.sim.channel("C0BLUE")["messages"]]
    mention = "<!subteam^S0BLUETEAM> :bell: Low-urgency Grafana alert on *an unknown service*: "
    assert len(texts) == 2 and all(text.startswith(mention) for text in texts)
    [us] = [text for text in texts if "This alert was triggered for zone us-1" in text]  # posts race
    assert "<https://play.grafana.org/alerting/1afz29v7z/edit|source>" in us
    assert rows(Incident) == []


def test_a_signed_generic_alert_is_accepted_once_and_routed_by_its_source(app):
    alert = {
        "source": "deploy-bot",
        "dedup_key": "deploy-4711",
        "title": "Deploy of checkout <v2.3> finished",
        "severity": "info",
        "service": "checkout",
        "labels": {"env": "prod"},
        "links": [{"text": "pipeline", "url": "https://ci.example.com/p/4711"}],
    }
    body = json.dumps(alert).encode()
    assert post(app, "/alerts/webhook", body, **signed(body)).status_code == 202
    assert post(app, "/alerts/webhook", body, **signed(body, secret="old-secret")).status_code == 200
    app.settle()
    [stored] = rows(Alert)
    assert (stored.dedup_key, stored.source, stored.triage, stored.count) == (
        "webhook:deploy-bot:deploy-4711",
        "deploy-bot",
        "info",
        1,
    )
    [notice] = app.sim.channel("C0INFO")["messages"]
    assert notice["text"] == (
        ":information_source: deploy-bot alert on *checkout*: Deploy of checkout &lt;v2.3&gt; finished"
        " · <https://ci.example.com/p/4711|pipeline>"
    )


@pytest.mark.parametrize(
    "headers",
    [
        lambda body: {},
        lambda body: signed(body, secret="someone-else"),
        lambda body: signed(body, at=time.time() - 600),
        lambda body: signed(body, at=time.time() + 600),
        lambda body: signed(body) | {"x-warroom-timestamp": "soon"},
        lambda body: signed(body + b" "),
    ],
    ids=["unsigned", "wrong-secret", "replayed", "from-the-future", "bad-timestamp", "other-body"],
)
def test_a_generic_alert_without_a_fresh_valid_signature_gets_401(app, headers):
    body = json.dumps({"source": "ci", "dedup_key": "k", "title": "t"}).encode()
    assert post(app, "/alerts/webhook", body, **headers(body)).status_code == 401
    assert rows(WebhookDelivery) == []


def test_a_generic_alert_outside_the_schema_gets_400(app):
    no_key = {"source": "ci", "title": "no key"}
    unknown_field = {"source": "ci", "dedup_key": "k", "title": "t", "x": 1}
    for alert in (no_key, unknown_field):
        body = json.dumps(alert).encode()
        answer = post(app, "/alerts/webhook", body, **signed(body))
        assert answer.status_code == 400, answer.text
    assert rows(WebhookDelivery) == []


def test_an_alert_no_rule_matches_is_high_unless_configured_low(simulator, db, tmp_path):
    body = json.dumps({"source": "ci", "dedup_key": "new-thing", "title": "Something never seen"}).encode()
    for unknown, opened in (("high", 1), ("low", 1)):  # the low one opens no second incident
        rules = tmp_path / "triage.yaml"
        rules.write_text("rules: []\ndefault_notice_channel: C0GENERAL\n")
        settings = local_settings(
            simulator,
            db,
            warroom_triage_rules=rules,
            warroom_webhook_secrets=SECRET,
            warroom_unknown_alerts=unknown,
        )
        app = LocalWarroom(simulator, settings)
        try:
            key = body.replace(b"new-thing", f"new-{unknown}".encode())
            post(app, "/alerts/webhook", key, **signed(key))
            app.settle()
        finally:
            app.stop()
        [alert] = [a for a in rows(Alert) if a.dedup_key == f"webhook:ci:new-{unknown}"]
        assert (alert.triage, alert.rule) == (unknown, "default")
        assert len([i for i in rows(Incident) if i.title == "Something never seen"]) == opened


def test_a_high_rule_that_names_a_pagerduty_service_pages_it_once(simulator, db, pd, tmp_path):
    rules = tmp_path / "triage.yaml"
    rules.write_text(
        "rules:\n  - name: checkout\n    match: {source: alertmanager}\n    triage: high\n    page: PSVC001\n"
    )
    settings = local_settings(
        simulator, db, warroom_triage_rules=rules, warroom_alertmanager_token=TOKEN, **pd_settings(pd)
    )
    app = LocalWarroom(simulator, settings)
    try:
        for _ in range(2):
            post(app, "/alerts/alertmanager", sample("alertmanager_firing"), **bearer(TOKEN))
        app.settle()
        app.settle()
    finally:
        app.stop()
    pages = [r.json["incident"] for r in pd.requests if r.method == "POST" and r.path.endswith("/incidents")]
    assert len(pages) == 1 and pages[0]["service"]["id"] == "PSVC001"
    assert [p.service_id for p in rows(Page)] == ["PSVC001"]


def test_a_generic_alert_repeated_while_firing_counts_without_a_second_notice(app):
    for value in ("12", "15"):  # the sender reminds every minute, with a new reading
        alert = {
            "source": "deploy-bot",
            "dedup_key": "slow",
            "title": "Slow deploys",
            "labels": {"p99": value},
        }
        body = json.dumps(alert).encode()
        assert post(app, "/alerts/webhook", body, **signed(body)).status_code == 202
        app.settle()
    [stored] = rows(Alert)
    assert stored.count == 2
    assert len(app.sim.channel("C0INFO")["messages"]) == 1


def test_a_generic_sender_cannot_pass_for_another_source(app):
    body = json.dumps({"source": "PagerDuty", "dedup_key": "k", "title": "t"}).encode()
    answer = post(app, "/alerts/webhook", body, **signed(body))
    assert answer.status_code == 400 and "own endpoint" in answer.json()["message"]
