"""Without a ping before every transaction, a pooled connection the database dropped (a restart,
an admin ending sessions) costs one failed statement, after which the transaction runs again on a
fresh connection; nothing half-committed is run twice."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

from bot.incidents.rules import Declaration
from bot.incidents.service import declare_incident
from storage.models import Incident
from storage.session import get_engine, in_session
from tests.clock import T0


def end_other_sessions(session: Session) -> int:
    ended = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return int(session.execute(ended).scalar_one())


def test_a_transaction_on_a_dropped_connection_runs_again_on_a_fresh_one(db):
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to drop")
    assert in_session(lambda session: session.execute(text("SELECT 1")).scalar_one()) == 1  # pooled now
    admin = create_engine(db, poolclass=NullPool)  # a connection of its own, outside the pool
    with Session(admin) as session:
        assert end_other_sessions(session) >= 1
    admin.dispose()

    incident, created = in_session(declare_incident, Declaration("Checkout down"), by="U1", at=T0, key="k1")

    assert created and incident.number == 1
    with Session(engine) as session:
        assert [row.number for row in session.exec(select(Incident))] == [1]
