"""Socket Mode: the same Bolt app over a websocket, for development without a public URL."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot import scheduler as schedules
from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps
from bot.flows.runs import recover_interrupted_runs
from bot.http.health import HealthMonitor
from bot.http.server import TimelineReaders, stop_work


async def run_socket_mode(settings: Settings) -> None:
    """Connect and serve until interrupted; storage must already be open."""
    assert settings.slack_app_token is not None
    deps = Deps.from_settings(settings)
    handler = AsyncSocketModeHandler(build_app(deps), settings.slack_app_token.get_secret_value())
    schedules.register(deps)
    health = HealthMonitor(deps.slack, settings.database_url, lambda: True)
    await health.start()  # auth.test, bounded: no request waits on it later
    deps.jobs.start()
    readers = TimelineReaders(deps)
    readers.start()
    deps.worker.submit(lambda: recover_interrupted_runs(deps), name="recover remediation runs")
    scheduler = schedules.start_scheduler(deps)
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        scheduler.shutdown(wait=False)
        await health.stop()
        await readers.stop()
        await stop_work(deps)
