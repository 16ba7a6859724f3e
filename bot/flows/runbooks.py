"""The runbooks that fit an incident, posted in its war room once each, and the fixes its alert's
runbooks run without a click.

`post_new_runbooks` claims the fitting runbooks not yet shown (a unique row per incident and
runbook) and records the job that posts them in the same transaction; the job posts each under
the metadata key `runbook:<incident>:<playbook>` and, on a retry, looks for it first. Which fixes
run by themselves is decided in the domain from stored facts (an alert opened the incident, its
runbook matched that alert), and each is requested once (`auto:<incident>:<playbook>/<action>`).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows.effects import post_once, retry_since
from bot.flows.remediation import record_request
from bot.incidents.service import get_incident
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.playbooks.matching import Catalog, Fit
from bot.remediation.runbooks import automatic_actions, claim_new_runbooks
from bot.views.runbooks import runbook_message
from storage.session import run_in_session

POST = "runbooks.post"


def register(deps: Deps) -> None:
    """Post runbooks in this process."""
    deps.jobs.register(POST, lambda job: show_runbooks(deps, job))


async def post_new_runbooks(deps: Deps, incident_id: int) -> int:
    """Have the fitting runbooks not yet shown in the room posted there; how many there are."""
    count = await run_in_session(_claim, incident_id, deps.catalog)
    if count:
        deps.jobs.wake()
    return count


def _claim(session: Session, incident_id: int, catalog: Catalog) -> int:
    at = clock.now()
    incident, fits = claim_new_runbooks(session, incident_id, catalog, at)
    if not fits:
        return 0
    payload = {
        "incident": incident_id,
        "fits": [{"playbook": fit.playbook.id, "reasons": list(fit.reasons)} for fit in fits],
        "automatic": [list(pair) for pair in automatic_actions(session, incident, fits)],
    }
    # the claims are unique per incident and runbook, so no two jobs name the same runbook
    key = f"runbooks:{incident_id}:" + ",".join(fit.playbook.id for fit in fits)
    queue.record(session, POST, key, payload, at=at)
    return len(fits)


def runbook_key(incident_id: int, playbook_id: str) -> str:
    """The metadata key of a runbook's post in a war room."""
    return f"runbook:{incident_id}:{playbook_id}"


async def show_runbooks(deps: Deps, job: Claimed) -> None:
    """Post each runbook once (best first), then ask for the fixes that run without a click."""
    payload = job.payload
    incident = await run_in_session(get_incident, int(payload["incident"]))
    assert incident.id is not None and incident.channel_id is not None
    for shown in payload["fits"]:
        playbook = deps.catalog.get(str(shown["playbook"]))
        if playbook is None:
            continue  # unloaded since it was claimed
        text, blocks = runbook_message(Fit(playbook, 0, tuple(shown["reasons"])))
        key = runbook_key(incident.id, playbook.id)
        await post_once(deps, incident.channel_id, text, blocks=blocks, key=key, since=retry_since(job))
        faults.step("runbooks.posted")
    if payload["automatic"]:
        asked = {"user": await deps.slack.bot_user_id(), "team": "", "channel": incident.channel_id}
        await run_in_session(_request_automatic, incident.id, payload["automatic"], asked)
        deps.jobs.wake()


def _request_automatic(session: Session, incident_id: int, pairs: list[Any], asked: dict[str, Any]) -> None:
    for playbook_id, action_id in pairs:
        key = f"auto:{incident_id}:{playbook_id}/{action_id}"
        what = {"playbook": playbook_id, "action": action_id, "params": {}, "incident": incident_id}
        record_request(session, key, asked, automatic=True, **what)
