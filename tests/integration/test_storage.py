"""Storage on SQLite and on Postgres (DATABASE_URL): numbering, idempotency, schema checks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from bot import clock
from bot.incidents.rules import Declaration, Severity
from bot.incidents.service import declare_incident, timeline
from storage import migrate
from storage.migrate import SchemaBehind
from storage.models import Incident
from storage.session import get_engine, session_scope


def declare(title: str, key: str) -> tuple[Incident, bool]:
    with session_scope() as session:
        return declare_incident(
            session, Declaration(title=title, severity=Severity.SEV2), by="U0ALICE", at=clock.now(), key=key
        )


def test_numbers_are_unique_and_gapless_under_concurrency(db):
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                results.append(declare(f"Outage {n}-{i}", key=f"k-{n}-{i}")[0].number)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == list(range(1, 51))


def test_the_same_key_declares_once_even_when_raced(db):
    outcomes: list[tuple[int, bool]] = []

    def worker() -> None:
        incident, created = declare("Checkout down", key="trigger:same")
        outcomes.append((incident.number, created))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {number for number, _ in outcomes} == {1}
    assert [created for _, created in outcomes].count(True) == 1
    with session_scope() as session:
        assert len(session.exec(select(Incident)).all()) == 1


def test_times_come_back_aware_utc(db):
    incident, _ = declare("Clock check", key="k-clock")
    with session_scope() as session:
        stored = session.get(Incident, incident.id)
        assert stored is not None and stored.declared_at.tzinfo is not None
        assert stored.declared_at.utcoffset() == UTC.utcoffset(None)
        [event] = timeline(session, incident.id)
        assert event.kind == "declared" and event.data == {"severity": 2, "private": False, "drill_of": None}


def test_naive_datetimes_are_refused(db):
    with pytest.raises(Exception, match="naive"), session_scope() as session:
        declare_incident(session, Declaration(title="x"), by="U1", at=datetime(2026, 1, 1), key="naive")


def test_a_database_behind_the_code_refuses_to_start(db):
    engine = get_engine()
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    try:
        with pytest.raises(SchemaBehind, match="run `warroom db upgrade`"):
            migrate.ensure_schema(engine, db)
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": migrate.head_revision(db)}
            )
    migrate.ensure_schema(engine, db)


def test_a_new_sqlite_file_is_created_at_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = migrate.open_database(url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision(url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    finally:
        engine.dispose()


def test_migrations_go_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'updown.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)


def test_only_one_process_takes_the_periodic_turn_at_a_time(db):
    from sqlmodel import Session

    from storage.session import take_turn

    engine = get_engine()
    with Session(engine) as first:
        assert take_turn(first, "reminders")
        if engine.dialect.name == "postgresql":
            with Session(engine) as second:
                assert not take_turn(second, "reminders")
                second.rollback()
        first.rollback()


def test_the_pagerduty_incidents_already_linked_are_followed_after_the_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'links.db'}"
    migrate.upgrade(url, "0006")
    engine = create_engine(url)
    at = "2026-11-24 03:12:09+00:00"
    raw = '{"id": "Q1", "number": 4211, "html_url": "https://acme.pagerduty.com/incidents/Q1"}'
    alert = (
        "INSERT INTO alerts (id, dedup_key, pd_incident_id, service_id, service_name, title, urgency,"
        " priority, status, count, triage, rule, incident_id, first_seen_at, last_seen_at, raw) VALUES"
        " (:id, :key, :pd, '', '', 't', 'high', '', :status, 1, :triage, '', :incident, :at, :at, :raw)"
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO incidents (id, number, title, summary, severity, status, private,"
                " commander_id, declared_by, declared_at)"
                " VALUES (1, 1, 't', '', 2, 'investigating', false, 'U0BOT', 'U0BOT', :at)"
            ),
            {"at": at},
        )
        for row in (
            {"id": 1, "key": "k1", "pd": "Q1", "status": "acknowledged", "triage": "high", "incident": 1},
            {"id": 2, "key": "k2", "pd": "Q2", "status": "triggered", "triage": "low", "incident": None},
        ):
            connection.execute(text(alert), {**row, "at": at, "raw": raw})
        connection.execute(
            text(
                "INSERT INTO pages (id, incident_id, incident_key, service_id, service_name, pd_incident_id,"
                " paged_by, paged_at, assignees) VALUES (1, 1, 'warroom-INC-1-PSVC2', 'PSVC2', 'Orders DB',"
                " 'QPAGE', 'U0ALICE', :at, '')"
            ),
            {"at": at},
        )
    migrate.upgrade(url)
    with engine.connect() as connection:
        links = connection.execute(
            text(
                "SELECT pd_incident_id, incident_id, number, html_url, status, alert_id, page_id"
                " FROM pagerduty_links ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [tuple(link) for link in links] == [
        ("Q1", 1, 4211, "https://acme.pagerduty.com/incidents/Q1", "acknowledged", 1, None),
        ("QPAGE", 1, None, "", "triggered", None, 1),
    ]
