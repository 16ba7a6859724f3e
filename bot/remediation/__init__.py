"""Approved one-click remediation: requests, votes, pre-checks, the audit (no Slack, no HTTP)."""
