"""Slack request signatures (v0), checked before Bolt sees a request."""

from __future__ import annotations

import hashlib
import hmac
import re

MAX_SKEW_SECONDS = 300
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack would send for this body."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def is_valid_slack_request(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *, now: float
) -> bool:
    """True only for a well-formed, fresh timestamp and a matching signature."""
    if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS or not _SIGNATURE.match(signature):
        return False
    return hmac.compare_digest(slack_signature(secret, timestamp, body), signature)
