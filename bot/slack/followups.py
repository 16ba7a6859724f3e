"""Sending what follow-ups mean for Slack: the war-room line, the done state, due reminders."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.adapters.slack import SlackCallFailed
from bot.deps import Deps
from bot.incidents.followups import claim_due_followups
from bot.slack.views.followups import DONE, done_line, followup_line, followup_reminder, shown
from storage.models import FollowUp, Incident
from storage.session import run_in_session

log = logging.getLogger(__name__)
# A closed incident's room may be archived or gone; the follow-up is recorded all the same.
UNREACHABLE = ("is_archived", "channel_not_found", "not_in_channel")


async def post_followup(deps: Deps, followup: FollowUp, incident: Incident) -> str | None:
    """Post the new follow-up in the war room; None when posted, else what to tell the asker."""
    reason = "it has no channel"
    if incident.channel_id is not None:
        text, blocks = followup_line(followup, incident)
        try:
            await deps.slack.post(incident.channel_id, text, blocks)
            return None
        except SlackCallFailed as exc:
            if exc.error not in UNREACHABLE:
                raise
            reason = exc.error.replace("_", " ")
    return (
        f"Recorded the follow-up on {incident.ref}, but its war room cannot show it ({reason}); "
        f"`/incident {incident.ref} followups` lists it."
    )


def _shows(message: dict[str, Any], followup: FollowUp) -> bool:
    """Whether a clicked message is this follow-up's own line (so replacing it loses nothing)."""
    blocks = message.get("blocks") or []
    accessory = (blocks[0].get("accessory") or {}) if len(blocks) == 1 else {}
    return bool(accessory.get("action_id") == DONE and accessory.get("value") == str(followup.id))


async def show_done(deps: Deps, followup: FollowUp, body: dict[str, Any]) -> None:
    """Turn the clicked message into the done line, or tell the clicker when it cannot change."""
    channel, user = body["channel"]["id"], body["user"]["id"]
    container, message = body.get("container") or {}, body.get("message") or {}
    text, blocks = done_line(followup)
    if not container.get("is_ephemeral") and message.get("ts") and _shows(message, followup):
        try:
            await deps.slack.update(channel, str(message["ts"]), text, blocks)
            return
        except SlackCallFailed as exc:
            log.warning("could not show follow-up %s as done: %s", followup.id, exc.error)
    await deps.slack.whisper(channel, user, f"Marked done: {shown(followup.text, 500)}")


async def send_due_followups(deps: Deps, now: datetime) -> int:
    """Claim the follow-ups due at `now` and remind each owner (or the IC) directly; how many."""
    claimed = await run_in_session(claim_due_followups, now)
    if not claimed:
        return 0
    bot = await deps.slack.bot_user_id()
    for followup, incident in claimed:
        to = followup.owner_id or incident.commander_id
        text, blocks = followup_reminder(followup, incident, owned=followup.owner_id is not None)
        # an incident opened from an alert has Warroom as its IC, which cannot message itself
        where = incident.channel_id if to == bot else to
        if where is None:
            continue
        try:
            await deps.slack.post(where, text, blocks)
        except Exception:
            log.exception("could not remind about follow-up %s", followup.id)
    return len(claimed)
