"""Requests as Slack and PagerDuty send them, cut to what the tests need."""

from __future__ import annotations

# Shapes as Slack sends them (api.slack.com: slash commands, block_actions, view_submission,
# Events API envelopes), cut to what matters here.
COMMAND = {
    "token": "unused",
    "team_id": "T0TEAM",
    "team_domain": "example",
    "channel_id": "C0GENERAL",
    "channel_name": "general",
    "user_id": "U0ALICE",
    "user_name": "alice",
    "command": "/incident",
    "text": "declare sev2 Checkout returns 500s",
    "api_app_id": "A0WARROOM",
    "is_enterprise_install": "false",
    "response_url": "https://hooks.slack.com/commands/T0TEAM/1111/abcd",
    "trigger_id": "1111.2222.abcdef",
}
BUTTON = {
    "type": "block_actions",
    "user": {"id": "U0BOB", "username": "bob", "name": "bob", "team_id": "T0TEAM"},
    "api_app_id": "A0WARROOM",
    "container": {"type": "message", "message_ts": "1700000000.000200", "channel_id": "C0INC1"},
    "trigger_id": "3333.4444.abcdef",
    "team": {"id": "T0TEAM", "domain": "example"},
    "enterprise": None,
    "is_enterprise_install": False,
    "channel": {"id": "C0INC1", "name": "inc-1-checkout-returns-500s"},
    "message": {"type": "message", "user": "U0BOT", "ts": "1700000000.000200", "text": "Restart?"},
    "response_url": "https://hooks.slack.com/actions/T0TEAM/5555/efgh",
    "actions": [{"action_id": "remediation.approve", "block_id": "run-42", "type": "button"}],
}
SUBMISSION = {
    "type": "view_submission",
    "team": {"id": "T0TEAM", "domain": "example"},
    "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
    "api_app_id": "A0WARROOM",
    "view": {"id": "V0DECLARE", "team_id": "T0TEAM", "type": "modal", "callback_id": "declare"},
    "response_urls": [],
}
EVENT = {
    "token": "unused",
    "team_id": "T0TEAM",
    "api_app_id": "A0WARROOM",
    "event": {"type": "member_joined_channel", "user": "U0CAROL", "channel": "C0INC1", "team": "T0TEAM"},
    "type": "event_callback",
    "event_id": "Ev0JOIN0001",
    "authorizations": [{"team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": True}],
}


# PagerDuty webhook v3, incident.triggered (developer.pagerduty.com: webhooks v3 overview), cut down.
PD_EVENT = {
    "id": "01DEMO",
    "event_type": "incident.triggered",
    "resource_type": "incident",
    "occurred_at": "2026-11-24T03:12:09.123Z",
    "agent": {"type": "user_reference", "summary": "Alice"},
    "data": {
        "id": "Q0DEMOINC1",
        "type": "incident",
        "incident_key": "checkout-5xx",
        "title": "Checkout 5xx rate above 5%",
        "service": {"id": "PSVC001", "type": "service_reference", "summary": "Checkout API"},
        "urgency": "high",
        "priority": None,
    },
}
