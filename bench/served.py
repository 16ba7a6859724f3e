"""`warroom serve` in its own process for a benchmark, as production runs it, and the timing of
repeated requests to it."""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bot.http.runner import free_port
from bot.simulator import SlackSimulator
from storage.migrate import upgrade


@contextmanager
def bench_database() -> Iterator[str]:
    """DATABASE_URL, else a temporary SQLite file, migrated to head, for the block."""
    with tempfile.TemporaryDirectory() as workdir:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(workdir) / 'bench.db'}"
        upgrade(url)
        yield url


@contextmanager
def served(simulator: SlackSimulator, database_url: str, *options: str, **settings: str) -> Iterator[str]:
    """Serve against `simulator` and `database_url` with `options` and `settings` (environment
    variables) until the block ends; yield the base URL once `/healthz` answers, or stop the
    bench if it does not within 30 s."""
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": simulator.token,
        "SLACK_SIGNING_SECRET": secrets.token_hex(8),
        "SLACK_API_URL": simulator.base_url,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WARROOM_BASE_URL": f"http://127.0.0.1:{port}",  # the console's address (sign-in returns there)
        **settings,
    }
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("warroom serve did not become healthy within 30 s")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def timed(client: httpx.Client, path: str, params: dict[str, object], asks: int) -> list[float]:
    """Milliseconds each of `asks` identical GETs took, in the order asked (each must answer 200)."""
    took = []
    for _ in range(asks):
        started = time.perf_counter()
        answer = client.get(path, params=params)
        took.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return took


def p50_p99(took: list[float]) -> tuple[float, float]:
    """The median and 99th percentile (nearest rank) of `took`."""
    ordered = sorted(took)
    return statistics.median(ordered), ordered[max(int(len(ordered) * 0.99) - 1, 0)]
