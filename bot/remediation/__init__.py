"""Approved one-click remediation: requests, votes, pre-checks, the audit (no Slack, no HTTP)."""

from bot.remediation import runs as _runs  # noqa: F401  (registers the voiding of requests on incident changes)
