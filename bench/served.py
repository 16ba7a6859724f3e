"""`warroom serve` in its own process for a benchmark, as production runs it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def served(env: dict[str, str], *options: str) -> Iterator[str]:
    """Serve with `env` (its PORT) and `options` until the block ends; yield the base URL once
    `/healthz` answers, or stop the bench if it does not within 30 s."""
    base = f"http://127.0.0.1:{env['PORT']}"
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
