"""Alerts from PagerDuty: webhooks, de-duplication, triage, pages and the noise report."""
