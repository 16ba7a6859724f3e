"""Alembic, driven from code: upgrade, and refuse to run on a database behind the code or one
that cannot be reached."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from storage.session import configure, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaBehind(Exception):
    """The database needs `warroom db upgrade` before the app may use it."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message is one line: the setting and why."""


def check_reachable(database_url: str) -> None:
    """Connect once, or raise `DatabaseUnavailable` naming the cause (never the password).

    A SQLite path whose directory is missing or not a directory is refused before connecting,
    so nothing is created on the way to the error."""
    url = make_url(database_url)
    problem = _sqlite_path_problem(url) if url.get_backend_name() == "sqlite" else None
    if problem is None:
        probe = make_engine(database_url)
        try:
            with probe.connect():
                pass
        except DBAPIError as exc:
            problem = _cause(exc, url)
        finally:
            probe.dispose()
    if problem is None:
        return
    if url.get_backend_name() == "sqlite":
        raise DatabaseUnavailable(f"DATABASE_URL: cannot open the SQLite database {url.database}: {problem}.")
    where = f"{url.host}:{url.port or 5432}" if url.host else "its local socket"
    raise DatabaseUnavailable(f"DATABASE_URL: cannot reach Postgres at {where}: {problem}.")


def _sqlite_path_problem(url: URL) -> str | None:
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return None
    path = Path(database)
    if path.is_dir():
        return "that path is a directory"
    parent = path.parent
    if not parent.is_dir():
        existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            return f"{existing} is a file, not a directory"
        return f"the directory {parent} does not exist"
    if not path.exists() and not os.access(parent, os.W_OK):
        return f"cannot create a file in {parent}"
    return None


def _cause(error: DBAPIError, url: URL) -> str:
    """The driver's reason in one line: "connection refused", 'role "x" does not exist'…"""
    text = str(error.orig if error.orig is not None else error).strip()
    line = text.splitlines()[0].strip() if text else type(error.orig).__name__
    if "failed: " in line:  # libpq: connection to server at "host", port N failed: <reason>
        line = line.rsplit("failed: ", 1)[1]
    line = line.removeprefix("FATAL:").strip().rstrip(".")
    if url.password:
        line = line.replace(url.password, "***")
    return line[:1].lower() + line[1:]


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this package's migrations against `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision`; `DatabaseUnavailable` if it cannot be reached."""
    check_reachable(database_url)
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
    """Configure the process-wide engine and check (or, for a new SQLite file, create) the schema;
    `DatabaseUnavailable` if the database cannot be reached or opened."""
    check_reachable(database_url)
    engine = configure(database_url)
    ensure_schema(engine, database_url)
    return engine
