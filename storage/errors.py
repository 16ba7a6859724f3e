"""Telling database errors apart, the same way on SQLite and Postgres."""

from sqlalchemy.exc import IntegrityError

_POSTGRES_UNIQUE_VIOLATION = "23505"


def is_unique_violation(error: IntegrityError) -> bool:
    """Whether the statement lost a race on a unique constraint (rather than breaking another rule)."""
    if getattr(error.orig, "sqlstate", None) == _POSTGRES_UNIQUE_VIOLATION:
        return True
    return "UNIQUE constraint failed" in str(error.orig)
