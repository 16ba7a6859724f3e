"""Real `warroom serve` processes (and HAProxy in front of them) on loopback, for the replica
and shutdown tests and `bench/chaos.py`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

from bot.http.runner import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def serve_environment(**settings: str) -> dict[str, str]:
    """This environment without any Warroom, Slack or PagerDuty setting, plus `settings`
    (NAME=value), importing Warroom from this checkout."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("WARROOM_", "SLACK_", "PAGERDUTY_")) and name not in ("DATABASE_URL", "PORT")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(settings)
    return env


class ServeProcess:
    """One `warroom serve` on its own port; its output goes to a log file kept for failures."""

    def __init__(self, env: dict[str, str], *, name: str = "warroom", workers: int = 1) -> None:
        self.env, self.name, self.workers = env, name, workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log")  # noqa: SIM115

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> None:
        """Start the process; with `wait`, return once /readyz answers 200."""
        command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until /readyz says 200; RuntimeError (with the log) when it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} was not ready within {timeout} s:\n{self.output()}")

    def terminate(self) -> None:
        """SIGTERM: a graceful shutdown."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL (`kill -9`): nothing is finished or given back."""
        assert self.process is not None
        self.process.kill()

    def wait(self, timeout: float = START_TIMEOUT) -> int:
        """The exit code, once the process has ended."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """End the process however it is doing (SIGTERM, then SIGKILL after a while)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()

    def output(self) -> str:
        """What the process printed so far."""
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """Stop it and delete its log."""
        self.stop()
        self.log.close()


HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)

_HAPROXY_CONFIG = """\
global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend warroom
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /readyz
    default-server inter 250ms fall 1 rise 1
{servers}
"""


class LoadBalancer:
    """HAProxy round-robin over `backends`, checking /readyz every 250 ms; a dead replica is
    skipped (a connection it refuses is tried on another), as a platform's router does."""

    def __init__(self, backends: list[ServeProcess]) -> None:
        assert HAPROXY is not None, "HAProxy is not installed"
        self.port = free_port()
        servers = "\n".join(f"    server {b.name} 127.0.0.1:{b.port} check" for b in backends)
        self._dir = tempfile.TemporaryDirectory(prefix="haproxy-")
        self._config = Path(self._dir.name) / "haproxy.cfg"
        self._config.write_text(_HAPROXY_CONFIG.format(port=self.port, servers=servers))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Run HAProxy in the foreground; return once it accepts connections."""
        assert HAPROXY is not None
        self.process = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(self._config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"haproxy exited: {error}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("haproxy did not start")

    def stop(self) -> None:
        """Stop HAProxy."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._dir.cleanup()
