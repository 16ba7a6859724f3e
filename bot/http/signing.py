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


def pagerduty_signature(secret: str, body: bytes) -> str:
    """One `v1=` entry of `X-PagerDuty-Signature` for this body."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid_pagerduty_request(secrets: list[str], header: str | None, body: bytes) -> bool:
    """True when any `v1=` entry matches any configured secret (several while rotating)."""
    if not header or not secrets:
        return False
    offered = [entry.strip() for entry in header.split(",") if entry.strip().startswith("v1=")]
    expected = [pagerduty_signature(secret, body) for secret in secrets]
    # compare every pair so timing says nothing about which entry or secret matched
    matches = [hmac.compare_digest(e, o) for e in expected for o in offered]
    return any(matches)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The generic alert webhook's `X-Warroom-Signature` for this body sent at `timestamp`."""
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
