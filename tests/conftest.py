"""Shared fixtures: one database per run (SQLite, or Postgres when DATABASE_URL names it),
emptied after each test; the Slack simulator; the real app served on loopback."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from bot.cli import open_storage
from bot.config import Settings, load_settings
from bot.deps import Deps
from bot.http.runner import BackgroundServer
from bot.http.server import create_web_app
from bot.simulator import SlackSimulator
from bot.simulator.sender import SlackSender
from storage import migrate
from storage.session import configure, get_engine

BROADCAST = "C0BROADCAST"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database for this run, migrated to head from empty."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        engine = configure(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'warroom.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    """Storage configured for one test and emptied afterwards."""
    configure(database_url)
    yield database_url
    engine = get_engine()
    tables = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[SlackSimulator]:
    sim = SlackSimulator()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def simulator(simulator_session: SlackSimulator) -> SlackSimulator:
    """The Slack simulator, reset to its seeded users and channels."""
    simulator_session.reset()
    return simulator_session


class Warroom:
    """The real app on loopback, a person sending signed requests, and the simulator."""

    def __init__(self, simulator: SlackSimulator, settings: Settings) -> None:
        self.sim = simulator
        self.settings = settings
        self.deps = Deps.from_settings(settings)
        self.server = BackgroundServer(create_web_app(self.deps))
        self.server.start()
        assert settings.slack_signing_secret is not None
        self.person = SlackSender(
            f"{self.server.url}/slack/events", settings.slack_signing_secret.get_secret_value()
        )

    def command(self, text: str, **options: Any) -> Any:
        """Send `/incident <text>`; return the HTTP response (the ack)."""
        options.setdefault("response_url", self.sim.response_url("cmd"))
        return self.person.command(text, **options)

    def settle(self) -> None:
        """Wait until the worker has done everything queued."""
        assert self.deps.worker.wait_idle(15), "the worker did not finish"

    def slack_calls(self) -> list[str]:
        """Web API methods called so far, in order, without answers on response_url and
        Bolt's one auth.test per process."""
        skipped = ("response_url", "auth.test")
        return [call.method for call in self.sim.calls if call.method not in skipped]

    def stop(self) -> None:
        self.person.close()
        self.server.stop()


def make_settings(simulator: SlackSimulator, database_url: str, **overrides: Any) -> Settings:
    """Settings pointing the app at the simulator and the test database."""
    values: dict[str, Any] = {
        "slack_bot_token": simulator.token,
        "slack_signing_secret": secrets.token_hex(16),
        "slack_api_url": simulator.base_url,
        "database_url": database_url,
        "warroom_broadcast_channel": BROADCAST,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def warroom(simulator: SlackSimulator, db: str) -> Iterator[Warroom]:
    """The app under test, with a broadcast channel configured."""
    settings = make_settings(simulator, db)
    open_storage(settings)
    app = Warroom(simulator, settings)
    yield app
    app.stop()
