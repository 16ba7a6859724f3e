"""`GET /api/v1/incidents` over 10,000 incidents against `warroom serve` (its own process): each
query (first page, a filtered page, a deep page by cursor, one incident) is asked 300 times in a
row over one keep-alive connection; prints p50 and p99 per query.

Run: python bench/api.py   (a temporary SQLite file unless DATABASE_URL is set; target p99 < 50 ms)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from served import bench_database, p50_p99, served, timed
from sqlalchemy import insert, text

from bot.api.tokens import create_token
from bot.simulator import SlackSimulator
from storage.migrate import open_database
from storage.models import Incident, table
from storage.session import in_session

INCIDENTS, ASKS = 10_000, 300


def fill(url: str) -> None:
    """10,000 incidents over a year, a tenth of them open, a few private."""
    engine = open_database(url)
    with engine.begin() as connection:
        for name in ("api_requests", "api_tokens", "timeline_events", "incidents"):
            connection.execute(text(f"DELETE FROM {name}"))
        start = datetime(2025, 12, 1, tzinfo=UTC)
        rows = []
        for n in range(1, INCIDENTS + 1):
            at = start + timedelta(minutes=50 * n)
            closed = n % 10 != 0
            rows.append(
                {
                    "number": n,
                    "title": f"Service {n % 40} degraded: error rate {n % 17}%",
                    "summary": "",
                    "severity": 1 + n % 4,
                    "status": "closed" if closed else "investigating",
                    "private": n % 97 == 0,
                    "commander_id": "U0ALICE",
                    "declared_by": "U0ALICE",
                    "declared_at": at,
                    "closed_at": at + timedelta(hours=2) if closed else None,
                }
            )
        connection.execute(insert(table(Incident)), rows)


def main() -> None:
    simulator = SlackSimulator()
    simulator.start()
    with bench_database() as url:
        fill(url)
        secret = in_session(create_token, "bench", "read", private=False, at=datetime.now(UTC))[1]
        try:
            with served(simulator, url, WARROOM_API_RATE_LIMIT="100000") as base:
                database = "Postgres" if url.startswith("postgresql") else "SQLite"
                headers = {"authorization": f"Bearer {secret}"}
                with httpx.Client(base_url=f"{base}/api/v1", headers=headers) as client:
                    deep = client.get("/incidents", params={"cursor": 5000}).json()["next_cursor"]
                    queries = {
                        "first page (25)": ("/incidents", {}),
                        "open sev1, 100 a page": (
                            "/incidents",
                            {"status": "open", "severity": 1, "limit": 100},
                        ),
                        "title search": ("/incidents", {"q": "service 7 degraded"}),
                        "page 200 by cursor": ("/incidents", {"cursor": deep}),
                        "one incident": ("/incidents/4321", {}),
                    }
                    for name, (path, params) in queries.items():
                        p50, p99 = p50_p99(timed(client, path, params, ASKS))
                        print(
                            f"GET {name} over {INCIDENTS} incidents on {database}: "
                            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                        )
        finally:
            simulator.stop()


if __name__ == "__main__":
    main()
