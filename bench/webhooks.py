"""1,000 incident events to 5 outgoing-webhook endpoints, each answering 500 to 30 % of requests,
through `warroom serve` (its own process): prints the time until every endpoint has every event,
and whether each got each event exactly once and in order (target: within 10 s).

Run: python bench/webhooks.py   (a temporary SQLite file unless DATABASE_URL is set)
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from served import served
from sqlalchemy import insert, text

from bot.simulator import SlackSimulator
from bot.simulator.receiver import WebhookReceiver
from storage.migrate import open_database, upgrade
from storage.models import Incident, TimelineEvent, table

EVENTS, ENDPOINTS = 1_000, 5
FAILING = float(os.environ.get("BENCH_FAILING", "0.3"))
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def main() -> None:
    simulator = SlackSimulator()
    simulator.start()
    receivers = [WebhookReceiver(SECRET, seed=n) for n in range(ENDPOINTS)]
    for receiver in receivers:
        receiver.fail_share = FAILING
        receiver.start()
    with tempfile.TemporaryDirectory() as workdir:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(workdir) / 'bench.db'}"
        upgrade(url)
        engine = open_database(url)
        with engine.begin() as connection:
            for name in ("webhook_sends", "webhook_endpoints", "timeline_events", "incidents"):
                connection.execute(text(f"DELETE FROM {name}"))
            now = datetime.now(UTC)
            incident = {
                "number": 1,
                "title": "Bench",
                "summary": "",
                "severity": 3,
                "status": "investigating",
                "private": False,
                "commander_id": "U0ALICE",
                "declared_by": "U0ALICE",
                "declared_at": now,
            }
            incident_id = connection.execute(
                insert(table(Incident)).returning(table(Incident).c.id), incident
            ).scalar_one()
        config = Path(workdir) / "webhooks.yaml"
        config.write_text(
            "endpoints:\n"
            + "".join(
                f"  - name: sink-{n}\n    url: {r.url}\n    secret_env: BENCH_SECRET\n"
                for n, r in enumerate(receivers)
            )
        )
        try:
            with served(
                simulator,
                url,
                WARROOM_WEBHOOKS=str(config),
                WARROOM_WEBHOOK_HOSTS=",".join(r.host for r in receivers),
                WARROOM_WEBHOOK_HTTP_HOSTS="127.0.0.1",
                BENCH_SECRET=SECRET,
            ):
                time.sleep(1)  # the endpoints take their place in the timeline
                rows = [
                    {
                        "incident_id": incident_id,
                        "at": datetime.now(UTC),
                        "kind": "note",
                        "actor_id": "U0ALICE",
                        "text": f"note {n}",
                        "data": {},
                    }
                    for n in range(EVENTS)
                ]
                started = time.monotonic()
                with engine.begin() as connection:
                    connection.execute(insert(table(TimelineEvent)), rows)
                while any(len(r.received.events) < EVENTS for r in receivers):
                    if time.monotonic() - started > 120:
                        break
                    time.sleep(0.05)
                took = time.monotonic() - started
                database = "Postgres" if url.startswith("postgresql") else "SQLite"
                for n, receiver in enumerate(receivers):
                    seen = receiver.received
                    texts = [event["data"]["event"]["text"] for event in seen.events]
                    exact = texts == [f"note {i}" for i in range(EVENTS)] and seen.bad_signatures == 0
                    print(
                        f"sink-{n}: {len(seen.events)} events, {seen.attempts} requests "
                        f"({seen.attempts - len(seen.events) - seen.repeats} answered 500), "
                        f"{seen.repeats} repeats, "
                        f"{'exactly once, in order' if exact else 'NOT exact'}"
                    )
                print(
                    f"{EVENTS} events to {ENDPOINTS} endpoints failing {FAILING:.0%} on {database}: "
                    f"all delivered in {took:.1f} s"
                )
        finally:
            for receiver in receivers:
                receiver.stop()
            simulator.stop()


if __name__ == "__main__":
    main()
