"""Self-healing on trial: a runbook action in auto mode runs on the alert it fits, shown on the
alert's notice before and after; people keep watching until it has `trial_runs` successes, then
its alerts become quiet notices; a failed automatic run escalates the alert to high at once."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot import clock
from bot.alerts.report import alert_report, report_markdown
from bot.simulator.automation import AutomationEndpoint
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Alert, Incident, KillSwitch, RemediationAudit, RemediationRun, TimelineEvent
from storage.session import in_session, session_scope

SAMPLE = Path(__file__).parents[1] / "data" / "alerts" / "alertmanager_firing.json"
TOKEN = "am-token-1"
PLAYBOOK = """---
id: queue-backlog
title: Queue backlog growing
match: {{alerts: ["QueueBacklog*"]}}
actions:
  - id: add-consumers
    label: Add two queue consumers
    kind: webhook
    url: http://{host}/scale
    target: the orders consumers
    risk: low
    mode: auto
    trial_runs: 2
    max_runs_per_hour: 50
---
Steps.
"""
RULES = """
rules:
  - name: queues
    match: {{alert: "QueueBacklog*"}}
    triage: {triage}
    severity: 3
    channel: C0QUEUES
    mention: S0QUEUETEAM
"""


def make_app(simulator, db, tmp_path, triage: str):
    endpoint = AutomationEndpoint()
    endpoint.start()
    books = tmp_path / "books"
    books.mkdir()
    (books / "queue.md").write_text(PLAYBOOK.format(host=endpoint.host))
    rules = tmp_path / "triage.yaml"
    rules.write_text(RULES.format(triage=triage))
    simulator.add_channel("queues", channel_id="C0QUEUES", members=[simulator.bot_user_id])
    settings = local_settings(
        simulator,
        db,
        warroom_playbooks_dir=books,
        warroom_triage_rules=rules,
        warroom_alertmanager_token=TOKEN,
        warroom_remediation_hosts=[endpoint.host],
        warroom_remediation_http_hosts=["127.0.0.1"],
    )
    warroom = LocalWarroom(simulator, settings)
    warroom.endpoint = endpoint
    return warroom


@pytest.fixture
def low(simulator, db, tmp_path):
    warroom = make_app(simulator, db, tmp_path, "low")
    yield warroom
    warroom.stop()
    warroom.endpoint.stop()


@pytest.fixture
def high(simulator, db, tmp_path):
    warroom = make_app(simulator, db, tmp_path, "high")
    yield warroom
    warroom.stop()
    warroom.endpoint.stop()


def fire(app, n: int, reason: str = "first notification") -> None:
    """Alertmanager sends one backlog alert of its own group (instance `n`)."""
    body: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    alert = copy.deepcopy(body["alerts"][0])
    labels = {"alertname": "QueueBacklogHigh", "service": "orders", "instance": f"orders-{n}"}
    alert.update(labels=labels, fingerprint=f"backlog{n:04d}")
    alert["annotations"] = {"summary": f"Orders queue backlog above 10k on orders-{n}"}
    body.update(groupKey=f"backlog-{n}", groupLabels={"alertname": "QueueBacklogHigh"}, alerts=[alert])
    body.update(commonLabels=labels, notification_reason=reason)
    answer = httpx.post(
        f"{app.server.url}/alerts/alertmanager",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 202, answer.text
    app.settle()
    app.settle()


def rows(model):
    return in_session(lambda s: list(s.exec(select(model).order_by(model.id))))


def notices(app) -> list[dict[str, Any]]:
    return [
        m
        for m in app.sim.channel("C0QUEUES")["messages"]
        if "QueueBacklog" in m["text"] or "backlog" in m["text"]
    ]


def test_a_low_alert_s_fix_on_trial_runs_on_its_notice_while_its_team_watches(low):
    fire(low, 1)
    [notice] = notices(low)
    text = notice["text"]
    assert text.startswith("<!subteam^S0QUEUETEAM> :bell: Low-urgency Alertmanager alert on *orders*")
    assert [h.path for h in low.endpoint.hits] == ["/scale"]
    [run] = rows(RemediationRun)
    [alert] = rows(Alert)
    assert (run.alert_id, run.incident_id, run.automatic, run.trial, run.state) == (
        alert.id,
        None,
        True,
        True,
        "succeeded",
    )
    # Posted first (calling the team, saying the fix is on trial), then edited before and after the run
    calls = [c for c in low.sim.calls if c.method in ("chat.postMessage", "chat.update")]
    assert [c.method for c in calls] == ["chat.postMessage", "chat.update", "chat.update"]
    assert (
        "Automatic fix on trial: watching *Add two queue consumers* (0 of 2 successful runs so far)"
        in (calls[0].args["text"])
    )
    assert ":arrow_forward: Running *Add two queue consumers*" in calls[1].args["text"]
    assert "*Add two queue consumers* succeeded" in text and "Automatic fix (on trial)" in text
    assert [b["type"] for b in notice["blocks"]] == ["section", "actions"]  # triage buttons stay
    audit = [(a.from_state, a.to_state) for a in rows(RemediationAudit)]
    assert audit == [
        ("proposed", "requested"),
        ("requested", "approved"),
        ("approved", "announced"),
        ("announced", "running"),
        ("running", "succeeded"),
    ]
    assert rows(Incident) == []


def test_the_same_alert_sent_again_runs_its_fix_once(low):
    fire(low, 1)
    fire(low, 1, reason="repeat interval")  # Alertmanager's repeat notification of the same firing
    assert [h.path for h in low.endpoint.hits] == ["/scale"]
    assert len(notices(low)) == 1


def test_a_proven_fix_turns_a_paging_alert_into_a_quiet_notice_and_a_failure_escalates_it(high):
    fire(high, 1)
    fire(high, 2)  # on trial: each opens an incident, where the fix runs in front of people
    assert len(rows(Incident)) == 2
    assert [r.state for r in rows(RemediationRun)] == ["succeeded", "succeeded"]

    fire(high, 3)  # proven: a quiet notice (mentions nobody), fixed on it
    assert len(rows(Incident)) == 2
    [quiet] = notices(high)
    assert quiet["text"].startswith(":bell: Low-urgency Alertmanager alert on *orders*")
    assert "<!subteam^" not in quiet["text"] and "Automatic fix (proven)" in quiet["text"]
    assert "succeeded" in quiet["text"]
    assert rows(Alert)[-1].triage == "low"

    high.endpoint.failing = True
    fire(high, 4)  # proven, but the fix fails now: escalated at once
    incidents = rows(Incident)
    assert len(incidents) == 3
    escalated = incidents[-1]
    assert escalated.title == "Orders queue backlog above 10k on orders-4"
    assert escalated.severity == 3 and escalated.channel_id is not None
    [_, failed] = notices(high)
    assert ":x: *Add two queue consumers* failed" in failed["text"]
    assert f"Escalated to high: *{escalated.ref}*" in failed["text"]
    assert rows(Alert)[-1].triage == "high" and rows(Alert)[-1].incident_id == escalated.id
    why = [e.text for e in rows(TimelineEvent) if e.kind == "alert_escalated"]
    assert len(why) == 1 and why[0].startswith("The automatic fix Add two queue consumers failed")
    room = high.sim.channel(escalated.channel_id)
    assert room["name"].startswith("inc-")

    fire(high, 5)  # back on trial after its failure: it pages people again
    assert len(rows(Incident)) == 4

    report = in_session(alert_report, clock.now() - timedelta(days=7), clock.now() + timedelta(hours=1))
    [record] = report["automatic"]
    assert (record["runs"], record["succeeded"], record["failed"], record["notices_saved"]) == (5, 3, 2, 1)
    assert record["advice"].startswith("demote")
    assert "1 notice saved" in report_markdown(report)


def test_the_kill_switch_stops_an_alert_s_fix_and_hands_the_alert_to_people(low):
    with session_scope() as session:
        reason = "database migration under way"
        session.add(
            KillSwitch(scope="*", engaged=True, changed_by="U0DAVE", changed_at=clock.now(), reason=reason)
        )
    fire(low, 1)
    assert low.endpoint.hits == []
    [run] = rows(RemediationRun)
    assert run.state == "blocked"
    [incident] = rows(Incident)
    [notice] = notices(low)
    assert "did not run: blocked by the kill switch on all remediation" in notice["text"]
    assert f"Escalated to high: *{incident.ref}*" in notice["text"]
