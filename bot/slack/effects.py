"""Recording the work of a click or form: as a durable job, or on the worker when it opens a form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.deps import Deps
from bot.slack.errors import answer_for, asked, asker


def submit_for(
    deps: Deps,
    job: Callable[[], Awaitable[None]],
    body: dict[str, Any],
    channel: str,
    *,
    urgent: bool = False,
) -> None:
    """Run the `job` of a click or form (`body`) on the worker (at once when it opens a form); a
    refusal or failure is told to whoever sent it, in `channel`."""
    user, what = asker(body), asked(body)

    async def report(exc: BaseException) -> None:
        await deps.slack.whisper(channel, user, answer_for(exc, user=user, what=what))

    deps.worker.submit(job, on_error=report, name=what, urgent=urgent)


async def record_click(deps: Deps, kind: str, body: dict[str, Any], channel: str, **payload: Any) -> None:
    """Record the work of a click or form (`body`) as a durable job keyed by its trigger or
    view (a retried delivery finds it recorded); the payload names who sent it, their team and
    `channel`; a refusal or failure is whispered to them there."""
    user = asker(body)
    team = str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id") or "")
    # a form is submitted once (Slack closes it), so its view id keys it; a click, its trigger
    form = body.get("view", {}).get("id") if body.get("type") == "view_submission" else None
    key = f"{kind}:{form or body.get('trigger_id') or body.get('action_ts')}"
    asked = {"user": user, "team": team, "channel": channel}
    await deps.jobs.submit(kind, key, asked | payload, tell={"channel": channel, "user": user})
