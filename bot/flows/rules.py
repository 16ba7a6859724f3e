"""Rules on incident events, run from the timeline like outgoing webhooks: one process at a time
reads the new events in order (a lease on the `:rules` place in the timeline), and for each rule
an event sets off records one durable job per action, in the transaction that moves its place
on, so each action runs once per event however often processes stop or replicas start. Each
action's job does it (invite, post, page, add a follow-up) and writes it on the timeline
("rule sev1-payments invited …"); what a rule does is never a trigger, so rules cannot loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot import clock
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.effects import post_once, retry_since
from bot.flows.paging import PAGE, page_key
from bot.incidents.changes import Context
from bot.incidents.followups import FollowUpDraft, add_followup
from bot.incidents.permissions import Actor
from bot.incidents.service import claim_key, get_incident, record_event
from bot.jobs import queue
from bot.jobs.queue import Claimed
from bot.rules.model import Do, RuleSet, fits, render, trigger_of
from bot.webhooks.progress import claim, newest_event, pending, record_attempts, release, sync_endpoints
from storage.models import Alert, Incident
from storage.session import run_in_session

log = logging.getLogger(__name__)
ACTION = "rule.action"
PLACE = ":rules"  # its row among the webhook endpoints' (no endpoint name starts with a colon)
POLL_SECONDS = 0.5
LEASE = timedelta(seconds=60)


class RoomNotOpen(WarroomError):
    """The incident's war room is still opening; the action waits for it."""

    transient = True


class RuleRunner:
    """Reads the timeline for the rules in this process, sharing the work with replicas."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.owner = deps.jobs.owner
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Begin on the running loop (nothing to do without rules)."""
        if self.deps.rule_set.rules:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop after the batch under way."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await run_in_session(sync_endpoints, [PLACE], clock.now())
        while not self._stopping.is_set():
            try:
                if await self._round():
                    self.deps.jobs.wake()
            except Exception:
                log.exception("rules: a round failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    async def _round(self) -> int:
        """Plan the actions of every new event; how many were recorded."""
        claimed = await run_in_session(claim, PLACE, self.owner, at=clock.now(), lease=LEASE)
        if claimed is None:
            return 0
        try:
            horizon = await run_in_session(newest_event)
            return await run_in_session(_plan, self.deps.rule_set, claimed[0], horizon, self.owner)
        finally:
            await run_in_session(release, PLACE, self.owner)


def _plan(session: Session, rule_set: RuleSet, cursor: int, horizon: int, owner: str) -> int:
    """Record a job per action of each rule the events after `cursor` set off, and move past them."""
    batch = pending(session, cursor, horizon, 500)
    recorded, now = 0, clock.now()
    for event, incident in batch:
        trigger = trigger_of(event)
        if trigger is None or (event.data or {}).get("rule"):
            continue
        alerts = list(session.exec(select(Alert).where(col(Alert.incident_id) == incident.id)))
        for rule in rule_set.rules:
            if not fits(rule, trigger, incident, alerts, now):
                continue
            for index, action in enumerate(rule.do):
                payload = {
                    "rule": rule.name,
                    "incident_id": incident.id,
                    "event": event.id,
                    "action": action.model_dump(),
                }
                recorded += queue.record(
                    session, ACTION, f"rule:{rule.name}:{event.id}:{index}", payload, at=now
                )
    if batch:
        last = batch[-1][0].id
        assert last is not None
        record_attempts(session, PLACE, owner, [], past=last, at=now, lease=LEASE)
    return recorded


def register(deps: Deps) -> None:
    """Run rule actions in this process."""
    deps.jobs.register(ACTION, lambda job: run_action(deps, job))


async def run_action(deps: Deps, job: Claimed) -> None:
    """Do one action of a rule for one event, and say so on the timeline (once)."""
    rule, action = str(job.payload["rule"]), Do.model_validate(job.payload["action"])
    incident = await run_in_session(get_incident, int(job.payload["incident_id"]))
    assert incident.id is not None
    if action.invite is not None:
        room = _room(incident)
        people = [entry for entry in action.invite if not entry.startswith("S")]
        for group in (entry for entry in action.invite if entry.startswith("S")):
            people += await deps.slack.group_members(group)
        if people:
            await deps.slack.invite(room, sorted(set(people)))
        said = "invited " + ", ".join(
            f"<!subteam^{e}>" if e.startswith("S") else f"<@{e}>" for e in action.invite
        )
    elif action.post is not None:
        if "{channel}" in action.post.text:
            _room(incident)  # the post links the war room: wait until it is open
        text = render(action.post.text, incident, rule)
        await post_once(deps, action.post.channel, text, key=job.key, since=retry_since(job))
        said = f"posted in <#{action.post.channel}>"
    elif action.page is not None:
        said = await run_in_session(_page, incident, action.page, rule)
    else:
        assert action.followup is not None
        bot = await deps.slack.bot_user_id()
        said = await run_in_session(
            _followup, incident, render(action.followup, incident, rule), bot, job.key
        )
    await run_in_session(_said, incident, rule, said, job.key)
    deps.jobs.wake()


def _room(incident: Incident) -> str:
    if incident.channel_id is None:
        raise RoomNotOpen(f"{incident.ref}'s war room is still opening.")
    return incident.channel_id


def _page(session: Session, incident: Incident, service: str, rule: str) -> str:
    assert incident.id is not None
    wanted: dict[str, Any] = {
        "incident_id": incident.id,
        "service_id": service,
        "user": incident.declared_by,  # on whose behalf, as for the declare form's page
        "message": f"Rule {rule}",
    }
    queue.record(session, PAGE, page_key(incident.id, service), wanted, at=clock.now())
    return f"paged PagerDuty service {service}"


def _followup(session: Session, incident: Incident, text: str, bot: str, key: str) -> str:
    assert incident.id is not None
    ctx = Context(actor=Actor(bot), at=clock.now(), admins=[bot], bot_user_id=bot)
    add_followup(session, incident.id, FollowUpDraft(text[:500]), ctx, key)
    return f"added the follow-up “{text[:80]}”"


def _said(session: Session, incident: Incident, rule: str, said: str, key: str) -> None:
    assert incident.id is not None
    if claim_key(session, f"{key}:said", "rule", incident.id, clock.now()):
        text = f"Rule {rule} {said}"
        record_event(session, incident, "rule_applied", at=clock.now(), text=text, data={"rule": rule})
