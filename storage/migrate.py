"""Alembic, driven from code: upgrade, and refuse to run on a database behind the code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.session import configure

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaBehind(Exception):
    """The database needs `warroom db upgrade` before the app may use it."""


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this package's migrations against `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to `revision` (tests and operators only)."""
    command.downgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_schema(engine: Engine, database_url: str) -> None:
    """Create a fresh SQLite database at head; refuse any other database behind head."""
    head = head_revision(database_url)
    current = current_revision(engine)
    if current == head:
        return
    if database_url.startswith("sqlite") and current is None:
        upgrade(database_url)
        return
    raise SchemaBehind(
        f"The database is at migration {current or 'none'}, the code needs {head}: "
        "run `warroom db upgrade` first."
    )


def open_database(database_url: str) -> Engine:
    """Configure the process-wide engine and check (or, for a new SQLite file, create) the schema."""
    engine = configure(database_url)
    ensure_schema(engine, database_url)
    return engine
