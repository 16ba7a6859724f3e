"""Unique constraints, the same way on SQLite and Postgres: tell a lost race apart, or skip it."""

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

_POSTGRES_UNIQUE_VIOLATION = "23505"


def is_unique_violation(error: IntegrityError) -> bool:
    """Whether the statement lost a race on a unique constraint (rather than breaking another rule)."""
    if getattr(error.orig, "sqlstate", None) == _POSTGRES_UNIQUE_VIOLATION:
        return True
    return "UNIQUE constraint failed" in str(error.orig)


def insert_new(session: Session, table: Table, unique: str) -> sqlite.Insert | postgresql.Insert:
    """`INSERT … ON CONFLICT (unique) DO NOTHING` for the session's database: rows whose `unique`
    column is already taken are skipped, with no savepoint per row."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[unique])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=[unique])
