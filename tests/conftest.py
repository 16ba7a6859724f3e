"""Shared fixtures: one database per run (SQLite, or Postgres when DATABASE_URL names it),
emptied after each test; the Slack simulator; the real app served on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from bot.jobs import faults
from bot.simulator import SlackSimulator
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.pagerduty import FakePagerDuty
from storage import migrate
from storage.session import configure, get_engine
from tests.clock import FakeClock
from tests.hooks import Receiver


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


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    """The strict PagerDuty fake, served on loopback for one test."""
    fake = FakePagerDuty()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def no_crash_points() -> Iterator[None]:
    """A crash point a test armed and did not reach does not fire in the next test."""
    yield
    faults.disarm()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Time stands at T0 until the test moves it."""
    fake = FakeClock()
    monkeypatch.setattr("bot.clock.now", fake.now)
    return fake


@pytest.fixture
def warroom(simulator: SlackSimulator, db: str) -> Iterator[LocalWarroom]:
    """The app under test, with a broadcast channel configured."""
    app = LocalWarroom(simulator, local_settings(simulator, db))
    yield app
    app.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback for a fake's deliveries, serving for the test."""
    hook = Receiver()
    hook.server.start()
    yield hook
    hook.server.stop()
