"""Self-healing on trial: the automatic fix that fits an alert runs on its notice, which shows
the run before and after; a fix that fails or cannot run escalates the alert to high at once.

The notice job records the run's dispatch once the notice is posted (the run is shown on it);
the dispatch job (`bot.flows.runs`) then pre-checks, sends and reports as for any run, editing
the notice instead of posting in a war room, and escalates in the transaction that opens the
incident's war room, under a key per run, so a retry never opens a second.
"""

from __future__ import annotations

from sqlmodel import Session

from bot import clock
from bot.alerts.overrides import get_alert
from bot.alerts.service import escalate_alert, notice_text
from bot.alerts.sources import severity_level
from bot.alerts.triage import Rules
from bot.alerts.updates import Fix, FixFinder, Notice
from bot.deps import Deps
from bot.flows.remediation import record_dispatch
from bot.flows.rooms import record_room
from bot.playbooks.matching import Catalog, Facts
from bot.remediation.dispatch import ALERT_RESOLVED
from bot.remediation.fixes import alert_fixes, request_alert_fix, track_record
from bot.remediation.requests import get_run
from bot.remediation.runs import find_action, last_detail, remember_message
from bot.text import escape_mrkdwn
from bot.views.alerts import notice_blocks
from storage.models import Alert, RemediationRun
from storage.session import run_in_session


def fix_finder(catalog: Catalog) -> FixFinder:
    """Finds the automatic fix for an alert; each action's track record is read once per batch."""
    records: dict[tuple[str, str], int] = {}

    def find(session: Session, alert: Alert) -> Fix | None:
        facts = Facts(
            title=alert.title,
            severity=severity_level(alert.severity) or 2,
            service=alert.service_name or None,
            alert=alert.name or alert.title,
        )
        fits = alert_fixes(catalog, facts)
        if not fits:
            return None
        playbook, action = fits[0]
        if (playbook, action.id) not in records:
            records[(playbook, action.id)] = track_record(session, playbook, action.id)
        return Fix(playbook, action.id, action.label, records[(playbook, action.id)], action.trial_runs)

    return find


def request_fix(session: Session, notice: Notice, catalog: Catalog, bot: str) -> int | None:
    """The run of a notice's automatic fix, asked for with the notice; None if one is open."""
    fix = notice.fix
    assert fix is not None
    run = request_alert_fix(
        session,
        get_alert(session, notice.alert_id),
        fix.playbook,
        find_action(catalog, fix.playbook, fix.action),
        channel=notice.channel,
        bot=bot,
        at=clock.now(),
        trial=not fix.proven,
    )
    return None if run is None else run.id


def start_fix(session: Session, run_id: int, channel: str, ts: str, key: str, catalog: Catalog) -> None:
    """The notice is up: show the run on it from now on and dispatch it (once, under `key`)."""
    run = get_run(session, run_id)
    remember_message(session, run_id, channel, ts)
    if run.state == "approved":
        record_dispatch(session, run, key, find_action(catalog, run.playbook_id, run.action_id))


async def show_on_notice(deps: Deps, run: RemediationRun, line: str, *, info: bool | None = None) -> None:
    """The alert's notice, with where its automatic fix stands (safe to repeat); on trial it
    still names whoever watches. `info`: whether it was an info notice (else its alert's triage)."""
    assert run.alert_id is not None
    if not (run.channel_id and run.message_ts):
        return
    alert = await run_in_session(get_alert, run.alert_id)
    info = alert.triage == "info" if info is None else info
    rule = next((rule for rule in deps.rules.rules if rule.name == alert.rule), None)
    mention = rule.mention if rule is not None and run.trial and not info else None
    how = "on trial" if run.trial else "proven"
    text = f"{notice_text(alert, mention, info=info)}\n:robot_face: Automatic fix ({how}): {line}"
    blocks = notice_blocks(text, run.alert_id, low=not info)
    await deps.slack.update(run.channel_id, run.message_ts, text, blocks)


async def after_fix(deps: Deps, run: RemediationRun, line: str) -> None:
    """Show how the fix ended on the notice; one that did not succeed escalates the alert,
    unless the alert resolved by itself first."""
    if run.state == "succeeded" or run.alert_id is None:
        await show_on_notice(deps, run, line)
        return
    if run.state == "blocked" and await run_in_session(last_detail, run.id) == ALERT_RESOLVED:
        await show_on_notice(deps, run, line)
        return
    assert run.alert_id is not None
    info = (await run_in_session(get_alert, run.alert_id)).triage == "info"
    ref = await run_in_session(_escalate, run.id, deps.rules, await deps.slack.bot_user_id())
    await show_on_notice(deps, run, f"{line}\n:rotating_light: Escalated to high: {ref} is open.", info=info)


def _escalate(session: Session, run_id: int, rules: Rules, bot: str) -> str:
    run = get_run(session, run_id)
    assert run.alert_id is not None
    detail = run.outcome or last_detail(session, run_id)
    why = f"The automatic fix {run.label} {run.state.replace('_', ' ')}: {detail}"
    incident, result = escalate_alert(
        session, run.alert_id, rules, why=why[:500], bot=bot, at=clock.now(), episode=f"fix:{run.id}"
    )
    if result.opened is not None:
        record_room(session, result.opened, page_service=result.page)
    return f"*{incident.ref}* ({escape_mrkdwn(incident.title)})"
