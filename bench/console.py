"""The web console's pages against `warroom serve` (its own process), signed in through the
simulator's Sign in with Slack: the incident list over 10,000 incidents (first page, a tab and a
title search), an incident page with 10,000 timeline events, and the reports page (charts
included) over the 1,000 incidents of the last 12 weeks. Each page is asked ASKS times in a row
over one keep-alive connection; prints p50 and p99.

Run: python bench/console.py   (a temporary SQLite file unless DATABASE_URL is set; targets:
list first page < 150 ms, incident page < 500 ms, reports < 300 ms)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from served import bench_database, p50_p99, served, timed
from sqlalchemy import insert, text

from bot.simulator import SlackSimulator
from bot.simulator.signin import sign_in_as
from storage.migrate import open_database
from storage.models import Incident, TimelineEvent, table

OLD, RECENT, EVENTS, ASKS = 9_000, 1_000, 10_000, 40
KINDS = ("note", "note", "update", "alert_retriggered", "rule_applied")


def fill(url: str) -> int:
    """10,000 incidents: 9,000 over the two years before, 1,000 in the last 12 weeks (acknowledged,
    mitigated and resolved at spread-out times), and an open one with 10,000 timeline events;
    the open one's number."""
    engine = open_database(url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for name in ("timeline_events", "role_assignments", "incidents"):
            connection.execute(text(f"DELETE FROM {name}"))
        rows: list[dict[str, Any]] = []
        for n in range(1, OLD + RECENT + 1):
            recent = n > OLD
            at = (
                now - timedelta(weeks=12) + timedelta(minutes=115 * (n - OLD))
                if recent
                else (now - timedelta(weeks=110) + timedelta(minutes=100 * n))
            )
            rows.append(
                {
                    "number": n,
                    "title": f"Service {n % 40} degraded: error rate {n % 17}%",
                    "summary": "",
                    "severity": 1 + n % 4,
                    "status": "closed",
                    "private": n % 97 == 0,
                    "commander_id": "U0ALICE",
                    "declared_by": "U0BOB",
                    "declared_at": at,
                    "identified_at": at + timedelta(minutes=5 + n % 20),
                    "resolved_at": at + timedelta(minutes=30 + n % 90),
                    "closed_at": at + timedelta(hours=3),
                }
            )
        busy = OLD + RECENT + 1
        rows.append(
            {
                "number": busy,
                "title": "Checkout returns 500s",
                "summary": "",
                "severity": 1,
                "status": "investigating",
                "private": False,
                "commander_id": "U0ALICE",
                "declared_by": "U0ALICE",
                "declared_at": now - timedelta(hours=30),
                "identified_at": None,
                "resolved_at": None,
                "closed_at": None,
            }
        )
        connection.execute(insert(table(Incident)), rows)
        incident_id = connection.execute(text(f"SELECT id FROM incidents WHERE number = {busy}")).scalar_one()
        events = [
            {
                "incident_id": incident_id,
                "at": now - timedelta(hours=30) + timedelta(seconds=10 * e),
                "kind": KINDS[e % len(KINDS)],
                "actor_id": ("U0ALICE", "U0BOB", "U0CAROL")[e % 3],
                "text": f"Step {e}: <@U0BOB> checked shard {e % 64}, error rate {e % 9}%",
                "data": {},
            }
            for e in range(EVENTS)
        ]
        connection.execute(insert(table(TimelineEvent)), events)
    return busy


def main() -> None:
    simulator = SlackSimulator()
    simulator.start()
    with bench_database() as url:
        busy = fill(url)
        signin = {"SLACK_CLIENT_ID": simulator.client_id, "SLACK_CLIENT_SECRET": simulator.client_secret}
        try:
            with served(simulator, url, **signin) as base, httpx.Client(base_url=base) as browser:
                simulator.add_redirect_url(base + "/auth/callback")
                back = sign_in_as(browser.get("/signin").headers["location"], "U0ALICE")
                assert browser.get(back.removeprefix(base)).status_code == 303
                database = "Postgres" if url.startswith("postgresql") else "SQLite"
                pages = {
                    f"incident list, first page, over {OLD + RECENT + 1:,} incidents": (
                        "/incidents",
                        {"tab": "all"},
                    ),
                    "incident list, closed SEV1 with a title search": (
                        "/incidents",
                        {"tab": "closed", "severity": 1, "q": "service 7 degraded"},
                    ),
                    f"incident page with {EVENTS:,} timeline events": (f"/incidents/INC-{busy}", {}),
                    f"reports over {RECENT:,} incidents (12 weeks, charts)": ("/reports", {"weeks": 12}),
                }
                for name, (path, params) in pages.items():
                    took = timed(browser, path, params, ASKS)
                    (p50, p99), first = p50_p99(took), took[0]  # the first draws the charts
                    print(f"{name} on {database}: first {first:.0f} ms, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        finally:
            simulator.stop()


if __name__ == "__main__":
    main()
