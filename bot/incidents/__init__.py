"""Incidents: declaring, numbering, roles and the timeline (no Slack or HTTP here)."""
