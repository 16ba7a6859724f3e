"""The one way to reach the database: `configure()` once, then `with session_scope() as s:`."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

T = TypeVar("T")
log = logging.getLogger(__name__)
_engine: Engine | None = None
_sqlite_writer = threading.RLock()
CONNECT_TIMEOUT_SECONDS = 10
# Pooled connections are replaced at this age (a timestamp check, no round trip), before a server
# or pooler that ends old sessions does; TCP keepalives keep load balancers' idle timers from
# cutting them in between, and notice a dead peer.
RECYCLE_SECONDS = 240
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url`; SQLite gets WAL, a busy timeout, foreign keys and
    write-ahead locking so concurrent writers queue instead of failing."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        # pysqlite's own BEGIN is deferred; take the write lock up front so two writers
        # never deadlock upgrading a read lock (SQLITE_BUSY despite the busy timeout).
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # No pre-ping: it is a round trip before every transaction. A connection dropped anyway (the
    # database restarted) fails its first statement; SQLAlchemy then retires the whole pool and
    # `in_session` runs the work once more on a fresh connection.
    return create_engine(
        database_url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=RECYCLE_SECONDS,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, **KEEPALIVES},  # a dead host fails
    )


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def configure(database_url: str) -> Engine:
    """Create the process-wide engine (replacing any earlier one) and return it."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = make_engine(database_url)
    return _engine


def get_engine() -> Engine:
    """The configured engine; `configure()` must have run."""
    if _engine is None:
        raise RuntimeError("storage.session.configure() was not called")
    return _engine


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    engine = get_engine()
    # SQLite has one writer at a time; queue this process's transactions on a lock instead
    # of in SQLite's busy handler, which sleeps in growing steps and adds latency under load.
    writer = _sqlite_writer if engine.dialect.name == "sqlite" else nullcontext()
    with writer, Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class _Dropped(Exception):
    """The database connection was lost before anything was committed: safe to run again."""


def in_session(work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `work(session, *args, **kwargs)` in one transaction, here and now; once more on a
    fresh connection if the database had dropped this one (nothing was committed then)."""
    try:
        return _in_transaction(work, args, kwargs, retry=True)
    except _Dropped:
        log.warning("the database dropped a pooled connection; running the transaction again")
        return _in_transaction(work, args, kwargs, retry=False)


def _in_transaction(work: Callable[..., T], args: Any, kwargs: Any, *, retry: bool) -> T:
    with session_scope() as session:
        try:
            return work(session, *args, **kwargs)
        except DBAPIError as exc:
            # Only from `work`, before the commit: a connection lost while committing may have
            # committed, so that is never run again.
            if retry and exc.connection_invalidated:
                raise _Dropped from exc
            raise


async def run_in_session(work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `work(session, *args, **kwargs)` in one transaction on a thread, off the event loop."""

    return await asyncio.to_thread(in_session, work, *args, **kwargs)


# The writes an acknowledgement waits for get threads of their own: queued behind after-ack jobs
# holding every thread of the default pool (a storm's batches), an ack would wait on them.
_ACK_WRITES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ack-write")


async def run_before_ack(work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`run_in_session` for the one write a request makes before it is answered."""
    call = functools.partial(in_session, work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_ACK_WRITES, call)


class Together:
    """Runs the transactions that arrive while one is being written as one transaction, each in
    its own savepoint: concurrent writes that would queue on one lock (the next incident number)
    cost one commit between them. Each caller gets its own result or exception."""

    def __init__(self, most: int = 100) -> None:
        self._most = most
        self._waiting: list[
            tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]
        ] = []
        self._writing = False

    async def run(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`work(session, *args, **kwargs)`, committed with whatever else is waiting."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, args, kwargs, done))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        return await done

    async def _write(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                try:
                    outcomes = await run_before_ack(_each_in_savepoint, [(w, a, k) for w, a, k, _ in group])
                except Exception as exc:
                    outcomes = [(False, exc)] * len(group)
                for (*_, done), (ok, value) in zip(group, outcomes, strict=True):
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            self._writing = False


def _each_in_savepoint(
    session: Session, works: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
) -> list[tuple[bool, Any]]:
    if len(works) == 1:  # alone: no savepoint to pay for
        work, args, kwargs = works[0]
        return [(True, work(session, *args, **kwargs))]
    outcomes: list[tuple[bool, Any]] = []
    for work, args, kwargs in works:
        try:
            with session.begin_nested():
                outcomes.append((True, work(session, *args, **kwargs)))
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise  # the whole transaction is run again on a fresh connection
            outcomes.append((False, exc))
        except Exception as exc:  # this caller's failure, not the others'
            outcomes.append((False, exc))
    return outcomes


def take_turn(session: Session, name: str) -> bool:
    """Whether this transaction may do the periodic job `name` now.

    On Postgres, a transaction-scoped advisory lock lets one of several processes through; on
    SQLite the transaction already holds the only write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    statement = text("SELECT pg_try_advisory_xact_lock(hashtext(:name))")
    return bool(session.execute(statement, {"name": f"warroom:{name}"}).scalar())
