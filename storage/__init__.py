"""Persistence: SQLModel tables, the session helper and Alembic migrations."""
