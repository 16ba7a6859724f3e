"""Auto mode: a low-risk action a runbook promoted runs without a click when an alert matches,
still announced, reported, audited as automatic, and stopped by the kill switch."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select

from bot import clock
from bot.http.signing import pagerduty_signature
from bot.simulator.automation import AutomationEndpoint
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Incident, KillSwitch, RemediationRun
from storage.session import session_scope

PLAYBOOK = """---
id: cache
title: Cache cluster degraded
match: {{alerts: ["CacheHitRate*"], keywords: [cache]}}
actions:
  - id: flush
    label: Flush the cold cache shard
    kind: webhook
    url: http://{host}/flush
    target: cache shard 3
    risk: low
    mode: auto
---
Steps.
"""


@pytest.fixture
def app(simulator, db, tmp_path):
    endpoint = AutomationEndpoint()
    endpoint.start()
    books = tmp_path / "books"
    books.mkdir()
    (books / "cache.md").write_text(PLAYBOOK.format(host=endpoint.host))
    rules = tmp_path / "triage.yaml"
    rules.write_text(
        "rules:\n  - name: cache\n    match: {title: 'CacheHitRate*'}\n    triage: high\n    severity: 3\n"
    )
    warroom = LocalWarroom(
        simulator,
        local_settings(
            simulator,
            db,
            warroom_playbooks_dir=books,
            warroom_triage_rules=rules,
            pagerduty_webhook_secrets="s3cret",
            warroom_remediation_hosts=[endpoint.host],
            warroom_remediation_http_hosts=["127.0.0.1"],
        ),
    )
    warroom.endpoint = endpoint
    yield warroom
    warroom.stop()
    endpoint.stop()


def alert(app, delivery: str = "d1") -> None:
    body = json.dumps(
        {
            "event": {
                "event_type": "incident.triggered",
                "occurred_at": "2026-11-24T03:00:00Z",
                "data": {
                    "id": "Q1",
                    "incident_key": "cache-hit",
                    "title": "CacheHitRate below 60%",
                    "urgency": "high",
                    "service": {"id": "PSVC9", "summary": "Cache"},
                },
            }
        }
    ).encode()
    response = httpx.post(
        f"{app.server.url}/pagerduty/webhook",
        content=body,
        headers={"x-pagerduty-signature": pagerduty_signature("s3cret", body), "x-webhook-id": delivery},
    )
    assert response.status_code in (200, 202)
    app.settle()
    app.settle()


def test_an_auto_action_runs_once_without_a_click_and_says_so(app):
    alert(app)
    alert(app, "d2")
    assert [h.path for h in app.endpoint.hits] == ["/flush"]
    with session_scope() as session:
        [run] = session.exec(select(RemediationRun)).all()
        incident = session.exec(select(Incident)).one()
    assert run.automatic and run.state == "succeeded" and run.requested_by == "U0BOT"
    lines = [m["text"] for m in app.sim.channel(incident.channel_id)["messages"]]
    assert any(
        t.startswith(":arrow_forward: Running *Flush the cold cache shard*") and "automatically" in t
        for t in lines
    )
    assert any(t.startswith(":white_check_mark: *Flush the cold cache shard* succeeded") for t in lines)


def test_the_kill_switch_stops_auto_actions_too(app):
    with session_scope() as session:
        session.add(KillSwitch(scope="*", engaged=True, changed_by="U0DAVE", changed_at=clock.now()))
    alert(app)
    assert app.endpoint.hits == []
    with session_scope() as session:
        [run] = session.exec(select(RemediationRun)).all()
    assert run.state == "blocked"


def test_a_person_declaring_a_matching_incident_gets_the_runbook_but_no_automatic_fix(app):
    app.command("declare sev3 Cache cluster is slow")
    app.settle()
    with session_scope() as session:
        incident = session.exec(select(Incident)).one()
        assert session.exec(select(RemediationRun)).all() == []
    lines = [m["text"] for m in app.sim.channel(incident.channel_id)["messages"]]
    assert any(t.startswith("Runbook: Cache cluster degraded") for t in lines)
    assert app.endpoint.hits == []
