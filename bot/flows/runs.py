"""Sending an approved run, and ending one that stayed too long in a state.

`DISPATCH` announces the run, sends it through the executor and reports, each message under its
metadata key. The send is the one effect Warroom cannot look up afterwards, so the run's move to
`running` (committed before the call) is its record of intent, and the outcome (committed after)
its completion. A retry that finds the run `running` knows the call may have gone out: it sends
again only an action the runbook declares `idempotent` (same Idempotency-Key), and otherwise ends
the run as `unknown`, to be checked by hand. The dispatch job is the run's lease: a retry happens
only once the job's owner stopped renewing it, and a `DEADLINE` leaves alone a run whose dispatch
job is still queued or running.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import Session

from bot import clock
from bot.adapters.executors import (
    CommandAction,
    Execution,
    ExecutorPolicy,
    RefusedTarget,
    WebhookAction,
    execute,
    preview,
)
from bot.deps import Deps
from bot.flows.effects import post_once, retry_since
from bot.flows.fixes import after_fix, show_on_notice
from bot.flows.remediation import DEADLINE, DISPATCH, message_key, record_deadline, record_recheck
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.playbooks.matching import Catalog
from bot.playbooks.models import Action
from bot.remediation.deadlines import end_overdue, open_runs
from bot.remediation.dispatch import announce_run, finish_run, start_run
from bot.remediation.params import Value
from bot.remediation.requests import approvals, get_run
from bot.remediation.runs import find_action, last_detail
from bot.views.remediation import announcement, blocked, overdue, report, request_message, resent
from storage.models import RemediationRun
from storage.session import run_in_session

FINISHED = ("succeeded", "failed", "timed_out", "unknown")
CRASHED = "Warroom stopped while sending it; check the target by hand before running it again"


def register(deps: Deps) -> None:
    """Run dispatch and deadline jobs in this process."""
    deps.jobs.register(DISPATCH, lambda job: run_dispatch(deps, job))
    deps.jobs.register(DEADLINE, lambda job: run_deadline(deps, job))


def room(run: RemediationRun) -> str:
    """The war room a run belongs to."""
    assert run.channel_id is not None, "a run belongs to an open war room"
    return run.channel_id


def policy(deps: Deps) -> ExecutorPolicy:
    """Where remediation may reach, from the settings."""
    settings = deps.settings
    return ExecutorPolicy(
        allowed_hosts=frozenset(settings.warroom_remediation_hosts),
        allow_http_hosts=frozenset(settings.warroom_remediation_http_hosts),
    )


def executable(action: Action) -> WebhookAction | CommandAction:
    """The executor's view of a runbook action."""
    if action.kind == "command":
        assert action.argv is not None
        return CommandAction(argv=action.argv)
    assert action.url is not None
    return WebhookAction(method=action.method, url=action.url, body=dict(action.body))


def preview_text(deps: Deps, action: Action, params: dict[str, Value]) -> str:
    """Exactly what a run would send, for a person to read; nothing is sent."""
    try:
        shown = preview(executable(action), params, run_id="preview", policy=policy(deps)).description
    except RefusedTarget as exc:
        return f"{action.label} could not run as written: {exc.user_message}"
    return f"Preview of *{action.label}* (nothing was sent):\n```{shown}```"


async def groups_of(deps: Deps, user_id: str, entries: tuple[str, ...]) -> frozenset[str]:
    """The user groups named in `entries` that `user_id` belongs to."""
    mine = set()
    for group in (entry for entry in entries if entry.startswith("S")):
        if user_id in await deps.slack.group_members(group):
            mine.add(group)
    return frozenset(mine)


async def say(deps: Deps, run: RemediationRun, text: str, *, what: str, since: float | None) -> None:
    """Tell the run's war room (once, under the message key `what`), or show it on the notice of
    the alert it fixes."""
    if run.alert_id is not None:
        await show_on_notice(deps, run, text)
    else:
        await post_once(deps, room(run), text, key=message_key(run, what), since=since)


async def say_ended(deps: Deps, run: RemediationRun, text: str, *, what: str, since: float | None) -> None:
    """Tell how the run ended; an alert's fix that did not succeed escalates the alert."""
    if run.alert_id is not None:
        await after_fix(deps, run, text)
    else:
        await post_once(deps, room(run), text, key=message_key(run, what), since=since)


async def refresh_request(deps: Deps, run: RemediationRun, action: Action) -> None:
    """Show the request's current state and votes on its message (safe to repeat); an alert's
    fix has no request message (its notice shows it)."""
    if run.channel_id and run.message_ts and run.id is not None and run.alert_id is None:
        text, blocks = request_message(run, action, await run_in_session(approvals, run.id))
        await deps.slack.update(run.channel_id, run.message_ts, text, blocks)


async def run_dispatch(deps: Deps, job: Claimed) -> None:
    """Pre-checks, announce, send (or preview on a dry run), report; a retry goes on from the
    run's state and never sends a non-idempotent action twice."""
    run = await run_in_session(get_run, int(job.payload["run"]))
    action = find_action(deps.catalog, run.playbook_id, run.action_id)
    after, took = retry_since(job), None
    if run.state == "approved":
        faults.step("remediation.dispatching")
        run = await run_in_session(_announce, run.id, deps.catalog, job.key, action)
    if run.state == "announced":
        approved_by = await run_in_session(approvals, run.id)
        said = announcement(run, approved_by)
        await asyncio.gather(
            say(deps, run, said, what="announce", since=after),
            refresh_request(deps, run, action),
        )
        faults.step("remediation.announced")
        run = await run_in_session(_start, run.id, job.key, action)
        if run.state == "running":
            run, took = await _send(deps, run, action)
    elif run.state == "running":  # an earlier attempt died after recording its intent to send
        if action.idempotent or run.dry_run:
            await say(deps, run, resent(run), what="resend", since=after)
            run, took = await _send(deps, run, action)
        else:
            run = await run_in_session(finish_run, run.id, "unknown", CRASHED, "", clock.now())
    await _say_how_it_ended(deps, run, action, after, took)


def _announce(session: Session, run_id: int, catalog: Catalog, holder: str, action: Action) -> RemediationRun:
    run = get_run(session, run_id, lock=True)
    if run.state != "approved":
        return run  # a deadline ended it first
    run = announce_run(session, run_id, catalog, clock.now())
    if run.state == "announced":
        record_deadline(session, run, "announced", action.timeout, holder=holder)
    return run


def _start(session: Session, run_id: int, holder: str, action: Action) -> RemediationRun:
    run = get_run(session, run_id, lock=True)
    if run.state != "announced":
        return run
    run = start_run(session, run_id, clock.now())
    if run.state == "running":  # committed before the call: the record that it may have gone out
        record_deadline(session, run, "running", action.timeout, holder=holder)
    return run


async def _send(deps: Deps, run: RemediationRun, action: Action) -> tuple[RemediationRun, int]:
    faults.step("remediation.sending")
    execution = await _execute(deps, run, action)
    faults.step("remediation.sent")  # the call went out; its outcome is not recorded yet
    run = await run_in_session(
        finish_run, run.id, execution.outcome, execution.detail, execution.excerpt, clock.now()
    )
    faults.step("remediation.recorded")
    return run, execution.duration_ms


async def _execute(deps: Deps, run: RemediationRun, action: Action) -> Execution:
    params: dict[str, Value] = dict(run.params)
    key = f"warroom-run-{run.id}"
    if run.dry_run:
        try:
            shown = preview(executable(action), params, run_id=key, policy=policy(deps)).description
        except RefusedTarget as exc:  # still a rehearsal that worked: say what a real run would meet
            return Execution(
                "succeeded",
                0,
                "",
                f"dry run: nothing was sent; a real run would be refused: {exc.user_message}",
            )
        return Execution("succeeded", 0, shown, "dry run: nothing was sent")
    try:
        return await execute(
            executable(action), params, run_id=key, policy=policy(deps), timeout=action.timeout
        )
    except RefusedTarget as exc:
        return Execution("failed", 0, "", f"refused before sending: {exc.user_message}")


async def _say_how_it_ended(
    deps: Deps, run: RemediationRun, action: Action, after: float | None, took: int | None
) -> None:
    if run.state == "blocked":
        why = await run_in_session(last_detail, run.id)
        await say_ended(deps, run, blocked(run, why), what="blocked", since=after)
    elif run.state in FINISHED:
        took = _duration_ms(run) if took is None else took
        await say_ended(deps, run, report(run, took), what="report", since=after)
    await refresh_request(deps, run, action)
    faults.step("remediation.reported")


def _duration_ms(run: RemediationRun) -> int:
    if run.dispatched_at is None or run.finished_at is None:
        return 0
    return int((run.finished_at - run.dispatched_at).total_seconds() * 1000)


async def run_deadline(deps: Deps, job: Claimed) -> None:
    """End a run still in the state this deadline watches, unless its dispatch job holds it."""
    payload = job.payload

    def end(session: Session) -> RemediationRun | None:
        at = clock.now()
        holder = payload.get("holder")
        if holder and _held(session, str(holder)):
            record_recheck(session, payload, at)
            return None
        return end_overdue(session, int(payload["run"]), str(payload["state"]), at)

    run = await run_in_session(end)
    deps.jobs.wake()
    if run is None:
        return
    faults.step("remediation.overdue")
    text = overdue(run, str(payload["state"]), int(payload["minutes"]))
    await say_ended(deps, run, text, what="overdue", since=retry_since(job))
    await refresh_request(deps, run, find_action(deps.catalog, run.playbook_id, run.action_id))


def _held(session: Session, key: str) -> bool:
    """Whether the job `key` is still to run or running (a dead owner's is taken over, not ended)."""
    jobs = queue.JOBS
    state = session.execute(select(jobs.c.state).where(jobs.c.key == key)).scalar_one_or_none()
    return state in (queue.QUEUED, queue.RUNNING)


async def recover_interrupted_runs(deps: Deps) -> None:
    """At start-up: give a deadline to every open run that has none (runs older than the job
    table). Never touches a run: one another replica holds goes on there, and one whose holder
    died is taken over with its dispatch job once that job's lease runs out."""
    await run_in_session(_watch_open_runs, deps.catalog)


def _watch_open_runs(session: Session, catalog: Catalog) -> None:
    for run in open_runs(session):
        playbook = catalog.get(run.playbook_id)
        action = next((a for a in playbook.meta.actions if a.id == run.action_id), None) if playbook else None
        timeout = action.timeout if action else Action.model_fields["timeout"].default
        record_deadline(session, run, run.state, timeout, holder=None)
