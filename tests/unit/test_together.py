"""Writes that arrive together commit together, each keeping its own result or failure."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot import clock
from bot.incidents.errors import InvalidInput
from storage.models import ProcessedRequest
from storage.session import Together, session_scope


def remember(session, key: str) -> str:
    if key == "bad":
        session.add(ProcessedRequest(key="half-done", kind="test", seen_at=clock.now()))
        session.flush()
        raise InvalidInput("refused")
    session.add(ProcessedRequest(key=key, kind="test", seen_at=clock.now()))
    session.flush()
    return key


def test_concurrent_writes_share_a_transaction_and_a_failure_stays_its_own(db):
    together = Together()

    async def burst():
        return await asyncio.gather(
            *(together.run(remember, key) for key in ("a", "b", "bad", "c")), return_exceptions=True
        )

    outcomes = asyncio.run(burst())
    assert outcomes[:2] == ["a", "b"] and outcomes[3] == "c"
    assert isinstance(outcomes[2], InvalidInput)
    with session_scope() as session:
        keys = sorted(row.key for row in session.exec(select(ProcessedRequest)))
    assert keys == ["a", "b", "c"]  # the refused one left nothing behind


def test_a_write_alone_raises_as_it_would_on_its_own(db):
    with pytest.raises(InvalidInput):
        asyncio.run(Together().run(remember, "bad"))
