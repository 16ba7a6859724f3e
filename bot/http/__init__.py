"""The ASGI app: Slack events, health and (later) PagerDuty webhooks."""
