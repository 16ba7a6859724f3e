"""The weekly alert report: its text posted in WARROOM_ALERT_REPORT_CHANNEL, then its chart of
pages per service per week shown under it, in its thread, as a PNG.

It runs in the scheduler's job (key `schedule:alert-report:<due>`). The text carries that key in
its metadata, so a retry finds the post instead of repeating it. The chart is the part metadata
cannot find: an upload is invisible until files.completeUploadExternal shares it. So the file id
getUploadURLExternal returned is recorded, with the post's ts, as a share job (key
`alert-report.chart:<the report's key>`), which completes exactly that id. A retry of the report
after that record uploads nothing; one before it uploads afresh (the earlier upload, never
shared, Slack drops); a retry of the share job completes the same id again, which cannot make a
second file. As the postmortem draft's files do (bot/flows/closing.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.alerts.report import alert_report, report_markdown
from bot.deps import Deps
from bot.flows.effects import post_once, share_recorded
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.views import charts
from storage.session import run_in_session

CHART = "alert-report.chart"
log = logging.getLogger(__name__)


def register(deps: Deps) -> None:
    """Run the report's chart-sharing jobs in this process."""
    deps.jobs.register(CHART, lambda job: share_chart(deps, job))


async def post_weekly_report(
    deps: Deps, now: datetime, *, key: str | None = None, since: float | None = None
) -> None:
    """Post the week's alert noise report up to `now` to WARROOM_ALERT_REPORT_CHANNEL, carrying
    `key` so that a retry since `since` finds the post instead of repeating it, and record the
    job that shows its chart under it (once for `key`)."""
    channel = deps.settings.warroom_alert_report_channel
    assert channel is not None
    key = key or f"alert-report:{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    zone = deps.settings.warroom_oncall_timezone
    figures = await run_in_session(alert_report, now - timedelta(days=7), now, zone)
    ts = await post_once(deps, channel, f"```{report_markdown(figures)[:3500]}```", key=key, since=since)
    faults.step("report.posted")
    if await _record_chart(deps, figures, channel, ts, key=key):
        faults.step("report.chart_recorded")
        deps.jobs.wake()


async def _record_chart(deps: Deps, figures: dict[str, Any], channel: str, ts: str, *, key: str) -> bool:
    """Upload the pages chart and record the job sharing it in the post's thread; False when an
    earlier attempt recorded it, or nothing paged (an empty chart says no more than the text)."""
    chart_key = f"{CHART}:{key}"
    chart = charts.pages_per_service(figures)
    if not chart.series or await run_in_session(queue.exists, chart_key):
        return False
    image = await asyncio.to_thread(charts.png, chart)  # 0.1 to 0.2 s of drawing, off the event loop
    uploaded = await deps.slack.upload({f"alert-report-{figures['until'][:10]}.png": image})

    def record(session: Session) -> bool:
        shown = {"channel": channel, "thread_ts": ts, "files": uploaded}
        return queue.record(session, CHART, chart_key, shown, at=clock.now())

    return await run_in_session(record)


async def share_chart(deps: Deps, job: Claimed) -> None:
    """Show the report's chart in its thread: exactly the file id recorded with the post."""
    await share_recorded(deps, job, "the report's chart")
    faults.step("report.chart_shared")
