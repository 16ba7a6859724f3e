"""PagerDuty webhook deliveries as durable jobs, and what they show in Slack.

Storing a group of deliveries records, in the same transaction, one `pagerduty.deliveries` job
(keyed by the group's first new delivery); its handler processes every stored delivery not yet
processed, in batches, so a job whose deliveries another replica took has nothing left to do.
Each batch commits its result (alerts counted, incidents declared, links followed) together
with one job per Slack effect: a low alert's notice (`alert.notice`, key
`alert:<alert id>:notice`) and a war room's line about a PagerDuty incident it follows
(`alert.line`, key `delivery:<delivery id>:line` or `link:<link id>:joined`). Each posts with
its key in the message metadata and, on a retry, looks for it first, so each is shown once; one
that Slack refuses fails alone.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime

from sqlmodel import Session

from bot import clock
from bot.alerts.service import has_pending, process_batch, store_deliveries
from bot.alerts.triage import Rules
from bot.deps import Deps
from bot.flows.effects import post_once, retry_since
from bot.flows.fixes import fix_finder, request_fix, start_fix
from bot.flows.linked import LINE, record_line
from bot.flows.rooms import ALERT_BLOCK, record_room
from bot.incidents.service import get_incident
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.playbooks.matching import Catalog
from bot.views.alerts import notice_blocks
from storage.session import run_in_session

DELIVERIES = "pagerduty.deliveries"
NOTICE = "alert.notice"
GATHER_SECONDS = 0.1  # let a storm gather: one batch of hundreds costs about what one delivery does


def store_and_record(session: Session, deliveries: list[tuple[str, str]], at: datetime) -> list[bool]:
    """Store deliveries (False for each seen before) and the job that processes them, together."""
    stored = store_deliveries(session, deliveries, at)
    fresh = [delivery_id for (delivery_id, _), new in zip(deliveries, stored, strict=True) if new]
    if fresh:
        digest = hashlib.sha256(fresh[0].encode()).hexdigest()[:40]  # an X-Webhook-Id may be 255 long
        queue.record(session, DELIVERIES, f"deliveries:{digest}", {"first": fresh[0]}, at=at)
    return stored


def register(deps: Deps) -> None:
    """Run delivery, notice and line jobs in this process."""
    deps.jobs.register(DELIVERIES, lambda job: process_deliveries(deps))
    deps.jobs.register(NOTICE, lambda job: post_notice(deps, job))
    deps.jobs.register(ALERT_BLOCK, lambda job: post_notice(deps, job))
    deps.jobs.register(LINE, lambda job: post_line(deps, job))


async def process_deliveries(deps: Deps) -> None:
    """Process every stored delivery not yet processed, a batch per transaction."""
    if not await run_in_session(has_pending):
        return
    bot = await deps.slack.bot_user_id()
    await asyncio.sleep(GATHER_SECONDS)
    while True:
        if not await run_in_session(process_and_record, deps.rules, bot, clock.now(), deps.catalog):
            return
        deps.jobs.wake()
        faults.step("alerts.batch_committed")


def process_and_record(session: Session, rules: Rules, bot: str, at: datetime, catalog: Catalog) -> int:
    """One batch, and a job for each thing it shows in Slack (a declared incident's war room
    too, a notice's automatic fix), in one transaction; how many deliveries it took."""
    claimed, results = process_batch(session, rules, bot, at, fixes=fix_finder(catalog))
    for result in results:
        if result.opened is not None:
            record_room(session, result.opened, page_service=result.page)
        if (notice := result.notice) is not None:
            payload = {
                "channel": notice.channel,
                "text": notice.text,
                "alert": notice.alert_id,
                "low": notice.low,
            }
            if notice.fix is not None:
                payload["run"] = request_fix(session, notice, catalog, bot)
            queue.record(session, NOTICE, result.key, payload, at=at)
        if result.linked is not None and result.linked.id is not None and result.line:
            record_line(session, result.key, result.linked.id, result.line, at=at)
    return claimed


async def post_notice(deps: Deps, job: Claimed) -> None:
    """A low or info alert's notice, with its triage buttons, once."""
    text = str(job.payload["text"])
    room = bool(job.payload.get("room"))
    blocks = notice_blocks(text, int(job.payload["alert"]), low=bool(job.payload.get("low", True)), room=room)
    since = retry_since(job)
    channel = str(job.payload["channel"])
    ts = await post_once(deps, channel, text, key=job.key, since=since, blocks=blocks)
    faults.step("alerts.notice_posted")
    if job.payload.get("run") is not None:
        await run_in_session(start_fix, int(job.payload["run"]), channel, ts, f"{job.key}:fix", deps.catalog)
        deps.jobs.wake()


async def post_line(deps: Deps, job: Claimed) -> None:
    """A line in the war room about a PagerDuty incident it follows, once (none if the room is
    still opening: it is on the timeline)."""
    incident = await run_in_session(get_incident, int(job.payload["incident_id"]))
    if incident.channel_id:
        await post_once(
            deps, incident.channel_id, str(job.payload["line"]), key=job.key, since=retry_since(job)
        )
    faults.step("alerts.line_posted")
