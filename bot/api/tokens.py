"""API tokens: created with a name and a scope, shown once, kept only as a SHA-256, revoked by
name; a token's last use is recorded (at most once a minute, so reads stay reads)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.incidents.errors import InvalidInput
from storage.errors import is_unique_violation
from storage.models import ApiToken, table

PREFIX = "wr_"
Scope = Literal["read", "write"]
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TOUCH_EVERY = timedelta(minutes=1)


def digest(secret: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, name: str, scope: Scope, *, private: bool, at: datetime
) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once, never stored)."""
    if not NAME.match(name):
        raise InvalidInput("A token name is 1-63 lowercase letters, digits, dots, dashes or underscores.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, scope=scope, private=private, token_hash=digest(secret), created_at=at)
    try:
        with session.begin_nested():
            session.add(token)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise InvalidInput(f"A token named {name} exists already; revoke it or pick another name.") from None
    return token, secret


def find_token(session: Session, secret: str) -> ApiToken | None:
    """The live token with this secret, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    statement = select(ApiToken).where(
        ApiToken.token_hash == digest(secret), col(ApiToken.revoked_at).is_(None)
    )
    return session.exec(statement).first()


def touch(session: Session, token: ApiToken, at: datetime) -> None:
    """Record a use, unless one was recorded within the last minute (most requests write nothing)."""
    if token.last_used_at is not None and token.last_used_at >= at - TOUCH_EVERY:
        return
    tokens = table(ApiToken)
    stale = or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at < at - TOUCH_EVERY)
    session.execute(update(tokens).where(tokens.c.id == token.id, stale).values(last_used_at=at))


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones too, oldest first."""
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id))))


def revoke_token(session: Session, name: str, at: datetime) -> ApiToken:
    """Revoke a token by name; it stops working at once."""
    token = session.exec(select(ApiToken).where(ApiToken.name == name)).first()
    if token is None:
        raise InvalidInput(f"No token is named {name}; `warroom api-tokens list` shows them.")
    if token.revoked_at is None:
        token.revoked_at = at
        session.add(token)
    return token
