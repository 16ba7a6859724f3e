"""Writes through the API under the client's Idempotency-Key: the first answer is kept with the
change (one transaction), and a retry with the same key gets it back instead of a second change."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from storage.models import ApiRequest


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What a key was first used for: the same key for another request is refused."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def earlier(session: Session, token_id: int, key: str) -> ApiRequest | None:
    """The write this token already made under `key`, if any."""
    statement = select(ApiRequest).where(ApiRequest.token_id == token_id, ApiRequest.idempotency_key == key)
    return session.exec(statement).first()


def remember(
    session: Session,
    token_id: int,
    key: str,
    *,
    method: str,
    path: str,
    fingerprint: str,
    status: int,
    response: dict[str, Any],
    at: datetime,
) -> None:
    """Keep the answer with the change; a concurrent write under the same key fails the unique
    constraint here, and its caller replays the winner's answer."""
    request = ApiRequest(
        token_id=token_id,
        idempotency_key=key,
        method=method,
        path=path[:300],
        fingerprint=fingerprint,
        status=status,
        response=response,
        at=at,
    )
    session.add(request)
    session.flush()
