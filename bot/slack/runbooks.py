"""Posting the runbooks that fit an incident in its war room, each once."""

from __future__ import annotations

from bot import clock
from bot.deps import Deps
from bot.playbooks.service import claim_new_runbooks
from bot.slack.remediation import run_auto_actions
from bot.slack.views.runbooks import runbook_message
from storage.session import run_in_session


async def post_new_runbooks(deps: Deps, incident_id: int) -> int:
    """Post the fitting runbooks not yet shown in the room; return how many were posted."""
    incident, fits = await run_in_session(claim_new_runbooks, incident_id, deps.catalog, clock.now())
    for fit in fits:
        text, blocks = runbook_message(fit)
        assert incident.channel_id is not None
        await deps.slack.post(incident.channel_id, text, blocks)
    await run_auto_actions(deps, incident, fits)
    return len(fits)
