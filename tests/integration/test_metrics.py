"""`GET /metrics` on the real app: request counts, ack latency, Slack calls, incidents by status."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from bot.http.metrics import ACK_BUCKETS, CONTENT_TYPE
from bot.http.signing import pagerduty_signature
from bot.jobs import queue
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Incident, Job
from storage.session import configure, in_session, session_scope

SECRET = "whsec_metrics"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def app(simulator, db):
    warroom = LocalWarroom(simulator, local_settings(simulator, db, pagerduty_webhook_secrets=SECRET))
    yield warroom
    warroom.stop()


def deliver(app: LocalWarroom, delivery: str) -> httpx.Response:
    """A low-urgency disk warning: the sample triage rules ignore it, so Slack hears nothing."""
    event = {
        "id": f"ev-{delivery}",
        "event_type": "incident.triggered",
        "data": {
            "id": "Q0DISK",
            "incident_key": "disk-worker-3",
            "title": "Disk usage above 80% on worker-3",
            "service": {"id": "PSVC009", "summary": "Workers"},
            "urgency": "low",
        },
    }
    body = json.dumps({"event": event}).encode()
    return httpx.post(
        f"{app.server.url}/pagerduty/webhook",
        content=body,
        headers={"x-pagerduty-signature": pagerduty_signature(SECRET, body), "x-webhook-id": delivery},
    )


def scrape(app: LocalWarroom) -> Samples:
    """Every sample of one scrape, parsed as Prometheus would, keyed by name and labels."""
    response = httpx.get(f"{app.server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """The samples of `name` keyed by the value of their one `label`."""
    return {dict(labels)[label]: count for (sample, labels), count in samples.items() if sample == name}


def requests(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["route"], dict(labels)["status"]): count
        for (name, labels), count in samples.items()
        if name == "warroom_http_requests_total"
    }


def test_metrics_count_requests_acks_slack_calls_and_incidents(app):
    assert app.command("declare sev2 Checkout returns 500s").status_code == 200
    app.settle()
    with session_scope() as session:
        room = session.get_one(Incident, 1).channel_id
    assert app.command("status identified", channel=room).status_code == 200
    app.settle()
    assert deliver(app, "d1").status_code == 202
    app.settle()
    assert httpx.get(f"{app.server.url}/no/such/page?token=secret").status_code == 404
    assert httpx.get(f"{app.server.url}/slack/events").status_code == 405

    first = scrape(app)
    samples = scrape(app)

    assert "/metrics" not in {route for route, _ in requests(first)}  # a scrape counts once answered
    assert requests(samples) == {
        ("/slack/events", "200"): 2,
        ("/slack/events", "405"): 1,
        ("/pagerduty/webhook", "202"): 1,
        ("other", "404"): 1,
        ("/metrics", "200"): 1,
    }
    # Only the POSTs are acks; every one came well inside Slack's 3 seconds.
    assert value(samples, "warroom_slack_ack_seconds_count") == 2
    assert value(samples, "warroom_slack_ack_seconds_bucket", le="3.0") == 2
    assert value(samples, "warroom_slack_ack_seconds_bucket", le="+Inf") == 2
    assert 0 < value(samples, "warroom_slack_ack_seconds_sum") < 6
    assert value(samples, "warroom_webhook_ack_seconds_count") == 1
    buckets = by_label(samples, "warroom_webhook_ack_seconds_bucket", "le")
    assert set(buckets) == {str(bound) for bound in ACK_BUCKETS} | {"+Inf"}

    slack = by_label(samples, "warroom_slack_api_calls_total", "method")
    assert slack["conversations.create"] == 1
    assert slack.pop("auth.test") == 1  # Warroom's own user id, asked once; the harness leaves it out
    assert slack == Counter(app.slack_calls())

    assert by_label(samples, "warroom_incidents", "status") == {
        "investigating": 0,
        "identified": 1,
        "monitoring": 0,
        "resolved": 0,
        "closed": 0,
    }
    assert by_label(samples, "warroom_jobs", "state") == {"queued": 0, "running": 0, "failed": 0}
    assert value(samples, "warroom_jobs_running_here") == 0


def test_labels_never_carry_raw_paths_or_query_strings(app):
    for n in range(5):
        assert httpx.get(f"{app.server.url}/scan/{n}?q=x").status_code == 404
    assert httpx.post(f"{app.server.url}/slack/events/").status_code == 307  # Starlette's slash redirect

    assert requests(scrape(app)) == {("other", "404"): 5, ("other", "307"): 1}
    text = httpx.get(f"{app.server.url}/metrics").text
    assert "/scan" not in text and "q=x" not in text


def test_an_empty_database_reports_every_status_at_zero(app):
    samples = scrape(app)

    assert by_label(samples, "warroom_incidents", "status") == {
        "investigating": 0,
        "identified": 0,
        "monitoring": 0,
        "resolved": 0,
        "closed": 0,
    }
    # at most the startup's auth.test, which may not have been answered yet
    assert set(by_label(samples, "warroom_slack_api_calls_total", "method")) <= {"auth.test"}
    assert value(samples, "warroom_slack_ack_seconds_count") == 0


def test_jobs_are_counted_by_state_across_replicas(app):
    app.settle()  # the scheduler's first tick has run
    now = datetime.now(UTC)
    for key, hours in (("later", 3), ("elsewhere", 1), ("broken", 1)):
        in_session(queue.record, "echo", key, {}, at=now, run_after=now + timedelta(hours=hours))
    in_session(queue.claim, "other-replica", at=now + timedelta(hours=2), lease=timedelta(hours=1), limit=9)
    broken = in_session(lambda s: s.exec(select(Job).where(Job.key == "broken")).one())
    in_session(queue.finish, broken.id, "other-replica", at=now, error="refused")

    samples = scrape(app)

    assert by_label(samples, "warroom_jobs", "state") == {"queued": 1, "running": 1, "failed": 1}
    assert value(samples, "warroom_jobs_running_here") == 0  # the running one is another replica's


def test_with_the_database_down_the_scrape_still_answers_without_incident_counts(app, db, tmp_path):
    configure(f"sqlite:///{tmp_path / 'missing' / 'warroom.db'}")  # its directory does not exist
    try:
        samples = scrape(app)
    finally:
        configure(db)

    assert by_label(samples, "warroom_incidents", "status") == {}
    assert value(samples, "warroom_slack_ack_seconds_count") == 0
