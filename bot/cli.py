"""The `warroom` command.

Only click is imported here: each command imports what it needs, so `warroom --help` and
`warroom --version` answer at once.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from bot.errors import WarroomError

if TYPE_CHECKING:
    from sqlmodel import Session
    from starlette.applications import Starlette

    from bot.config import Settings

T = TypeVar("T")


def _settings(require: Iterable[str] = ()) -> Settings:
    """The settings, or one line naming every malformed one and every one of `require` unset."""
    from bot.config import load_settings

    try:
        return load_settings(require=require)
    except WarroomError as exc:
        raise click.ClickException(exc.user_message) from None


@click.group()
@click.version_option(package_name="warroom", prog_name="warroom")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def cli(verbose: bool) -> None:
    """Warroom: incident command for Slack."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # slack_sdk logs request bodies at DEBUG; keep tokens and payloads out of the log.
    logging.getLogger("slack_sdk").setLevel(logging.WARNING)
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
    for chatty in ("apscheduler", "httpx", "httpx2", "alembic"):  # a line per request, job or step is noise
        logging.getLogger(chatty).setLevel(logging.WARNING)


@cli.command()
@click.option("--port", type=int, default=None, help="Port (default: $PORT or 3000).")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes sharing the port (more than one needs Postgres).",
)
def serve(port: int | None, host: str, workers: int) -> None:
    """Serve Slack (POST /slack/events) and health (GET /healthz) over HTTP."""
    settings = _settings(require=("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"))
    _open_database(settings)
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port or settings.port,
        "log_level": "info",
        "proxy_headers": True,
        # Requests in flight get this long after SIGTERM, then the job dispatcher gets
        # WARROOM_SHUTDOWN_GRACE_SECONDS to finish or give back its jobs (bot.http.server).
        "timeout_graceful_shutdown": HTTP_DRAIN_SECONDS,
    }
    # uvicorn hands SIGTERM back to the process once it has shut down gracefully; that is the
    # planned end of a replica (a deploy, a scale-down), so it exits 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with _only_process_on_sqlite(settings, workers):
        if workers == 1:
            uvicorn.run(_guarded(lambda: _web_app(settings)), **options)
        else:  # each process builds its own app (its own Deps and dispatcher); the job table coordinates
            uvicorn.run("bot.cli:web_app", factory=True, workers=workers, **options)


HTTP_DRAIN_SECONDS = 3  # Slack gives up on an answer after 3 s anyway


def web_app() -> Starlette:
    """The app of one `warroom serve --workers N` process, from the environment."""
    from bot.config import load_settings
    from storage import migrate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    migrate.open_database(settings.database_url)
    return _web_app(settings)


def _web_app(settings: Settings) -> Starlette:
    from bot.deps import Deps
    from bot.http.server import create_web_app

    return create_web_app(Deps.from_settings(settings))


@contextmanager
def _only_process_on_sqlite(settings: Settings, workers: int) -> Iterator[None]:
    """On SQLite, refuse a second process: hold an exclusive lock on a file beside the database
    while serving (the system releases it however the process ends). Postgres takes any number."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        yield
        return
    if workers > 1:
        raise click.ClickException(
            f"--workers {workers} needs Postgres: SQLite serves one Warroom process; "
            "set DATABASE_URL to a postgresql:// database to run several."
        )
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks to take
        fcntl = None  # type: ignore[assignment]
    if fcntl is None or not url.database or url.database == ":memory:":
        yield
        return
    with open(f"{url.database}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise click.ClickException(
                f"Another Warroom process is using {url.database}: SQLite serves one process; "
                "stop the other, or set DATABASE_URL to a postgresql:// database to run several."
            ) from None
        yield


@cli.command()
def socket() -> None:
    """Connect over Socket Mode (no public URL needed; for development)."""
    import asyncio

    settings = _settings(require=("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"))
    _open_database(settings)
    from bot.socket import run_socket_mode

    with _only_process_on_sqlite(settings, 1):
        asyncio.run(run_socket_mode(settings))


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Migrate the database to the newest schema."""
    from storage import migrate

    settings = _settings()
    _guarded(lambda: migrate.upgrade(settings.database_url))
    click.echo(f"Database at migration {migrate.head_revision(settings.database_url)}.")


@cli.group()
def playbooks() -> None:
    """Runbook commands."""


@playbooks.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def check_playbooks(directory: Path | None) -> None:
    """Validate every runbook in DIRECTORY (default: WARROOM_PLAYBOOKS_DIR); exit 1 on any error."""
    from bot.playbooks.loader import load_playbooks
    from bot.text import plural

    directory = directory or _settings().warroom_playbooks_dir
    found, problems = load_playbooks(directory)
    for problem in problems:
        click.echo(str(problem), err=True)
    click.echo(f"{plural(len(found), 'runbook')} valid, {plural(len(problems), 'problem')} in {directory}.")
    if problems:
        sys.exit(1)


@cli.group()
def report() -> None:
    """Reports from what Warroom recorded."""


@report.command("alerts")
@click.option("--since", "window", default="7d", show_default=True, help="How far back: 7d, 24h, 90m.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
def report_alerts(window: str, fmt: str) -> None:
    """Alert noise per source, service and alert: counts, pages, time to acknowledge, what to do."""
    from bot.alerts.report import alert_report, report_markdown

    zone = _settings().warroom_oncall_timezone
    _print_report(partial(alert_report, zone=zone), report_markdown, window, fmt)


@report.command("incidents")
@click.option("--since", "window", default="30d", show_default=True, help="How far back: 30d, 24h, 90m.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
def report_incidents(window: str, fmt: str) -> None:
    """Incidents by severity, time to acknowledge, mitigate and resolve, runs and follow-ups."""
    from bot.postmortem.report import incident_report, report_markdown

    _print_report(incident_report, report_markdown, window, fmt)


def _print_report(
    build: Callable[[Session, datetime, datetime], dict[str, Any]],
    markdown: Callable[[dict[str, Any]], str],
    window: str,
    fmt: str,
) -> None:
    """Build a report over the last `window` and print it as Markdown or JSON."""
    from bot import clock
    from storage.session import session_scope

    since = _duration(window)
    _open_database(_settings())
    now = clock.now()
    with session_scope() as session:
        figures = build(session, now - since, now)
    click.echo(json.dumps(figures, indent=2) if fmt == "json" else markdown(figures), nl=fmt == "json")


@cli.group(invoke_without_command=True)
@click.pass_context
def jobs(ctx: click.Context) -> None:
    """After-ack work: list the failed jobs and those whose owner died mid-way."""
    if ctx.invoked_subcommand is not None:
        return
    from bot import clock
    from bot.jobs.queue import troubled
    from storage.session import in_session

    _open_database(_settings())
    found = in_session(troubled, at=clock.now())
    if not found:
        click.echo("No failed or stuck jobs.")
    for job in found:
        state = "stuck (its owner stopped)" if job.state == "running" else job.state
        click.echo(f"{job.id}\t{job.kind}\t{state}\tattempts {job.attempts}\t{job.last_error or ''}")


@jobs.command("retry")
@click.argument("job_id", type=int)
def retry_job(job_id: int) -> None:
    """Run failed job JOB_ID again, from its first attempt."""
    from bot import clock
    from bot.jobs.queue import retry_failed
    from storage.session import in_session

    _open_database(_settings())
    if not in_session(retry_failed, job_id, at=clock.now()):
        raise click.ClickException(f"No failed job {job_id}; `warroom jobs` lists them.")
    click.echo(f"Job {job_id} is queued again; a running Warroom picks it up within a second.")


@cli.group("api-tokens", invoke_without_command=True)
@click.pass_context
def api_tokens(ctx: click.Context) -> None:
    """Bearer tokens for the HTTP API (/api/v1): list them (revoked ones too)."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.api.tokens import list_tokens
    from storage.session import in_session

    _open_database(_settings())
    tokens = in_session(list_tokens)
    if not tokens:
        click.echo("No API tokens; `warroom api-tokens create --name NAME --scopes read` makes one.")
    for token in tokens:
        used = f"last used {token.last_used_at:%Y-%m-%d %H:%M} UTC" if token.last_used_at else "never used"
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M} UTC" if token.revoked_at else "active"
        private = ", private incidents" if token.private else ""
        click.echo(f"{token.name}\t{token.scope}{private}\t{state}\t{used}")


@api_tokens.command("create")
@click.option("--name", required=True, help="Who uses it, e.g. deploy-bot (shown on what it changes).")
@click.option(
    "--scopes", "scope", type=click.Choice(["read", "write"]), required=True, help="write can read too."
)
@click.option("--private", is_flag=True, help="Let it see private incidents.")
def create_api_token(name: str, scope: Literal["read", "write"], private: bool) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from bot import clock
    from bot.api.tokens import create_token
    from storage.session import in_session

    _open_database(_settings())
    token, secret = _guarded(lambda: in_session(create_token, name, scope, private=private, at=clock.now()))
    click.echo(secret)
    click.echo(f"Token {token.name} ({scope}) created; it is shown only this once.", err=True)


@api_tokens.command("revoke")
@click.argument("name")
def revoke_api_token(name: str) -> None:
    """Revoke the token NAME; it stops working at once."""
    from bot import clock
    from bot.api.tokens import revoke_token
    from storage.session import in_session

    _open_database(_settings())
    _guarded(lambda: in_session(revoke_token, name, clock.now()))
    click.echo(f"Token {name} is revoked.")


@cli.group()
def rules() -> None:
    """Rules on incident events (WARROOM_RULES)."""


@rules.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path))
def check_rules(file: Path | None) -> None:
    """Validate the rules in FILE (default: WARROOM_RULES); exit 1 naming the rule and field."""
    from bot.rules.model import BadRules, load_rule_set
    from bot.text import plural

    file = file or _settings().warroom_rules
    if file is None:
        raise click.ClickException("Name a rules file, or set WARROOM_RULES.")
    try:
        found = load_rule_set(file)
    except BadRules as exc:
        click.echo(exc.user_message, err=True)
        sys.exit(1)
    click.echo(f"{plural(len(found.rules), 'rule')} valid in {file}.")


@cli.group()
def webhooks() -> None:
    """Outgoing webhooks (WARROOM_WEBHOOKS): the delivery log, and sending events again."""


@webhooks.command("deliveries")
@click.option("--endpoint", help="Only this endpoint's deliveries.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def webhook_deliveries(endpoint: str | None, limit: int) -> None:
    """The newest delivery attempts: when, endpoint, event, attempt, outcome and why."""
    from bot.webhooks.progress import deliveries
    from storage.session import in_session

    _open_database(_settings())
    found = in_session(deliveries, endpoint, limit)
    if not found:
        click.echo("No deliveries yet.")
    for send in found:
        status = send.status if send.status is not None else "—"
        click.echo(
            f"{send.at:%Y-%m-%d %H:%M:%S}\t{send.endpoint}\t{send.type}\t{send.message_id}\t"
            f"attempt {send.attempt}\t{send.outcome}\t{status}\t{send.duration_ms} ms\t{send.detail}"
        )


@webhooks.command("replay")
@click.option("--since", required=True, help="How far back, e.g. 30m, 1h, 2d.")
@click.option("--endpoint", help="Only to this endpoint (else to every endpoint).")
def webhook_replay(since: str, endpoint: str | None) -> None:
    """Send every event since then again, in order, with its original webhook-id."""
    from bot import clock
    from bot.webhooks.progress import replay
    from storage.session import in_session

    _open_database(_settings())
    now = clock.now()
    moved = in_session(replay, now - _duration(since), now, endpoint)
    if not moved:
        raise click.ClickException("Nothing to replay: no such endpoint, or no event in that window.")
    click.echo(
        f"Replaying events since {since} ago to {endpoint or f'{moved} endpoints'}; "
        "a running Warroom sends them."
    )


@cli.command("export")
@click.argument("incident")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option("--as", "reader", help="Your Slack user id (needed for a private incident).")
def export(incident: str, fmt: str, output: Path | None, reader: str | None) -> None:
    """Write the postmortem draft of INCIDENT (e.g. INC-7) as Markdown or JSON."""
    from bot import clock
    from bot.incidents.rules import incident_number
    from bot.postmortem.export import export_draft
    from storage.session import session_scope

    number = incident_number(incident)
    if number is None:
        raise click.BadParameter("name the incident like INC-7", param_hint="INCIDENT")
    settings = _settings()
    _open_database(settings)

    def draft() -> str:
        with session_scope() as session:
            return export_draft(
                session, number, fmt=fmt, reader=reader, admins=settings.warroom_admins, now=clock.now()
            )

    text = _guarded(draft)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"Cannot write {output}: {exc.strerror or exc}.") from None
    click.echo(f"Wrote the INC-{number} postmortem draft to {output}.", err=True)


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d{1,5})([dhm])", text.strip())
    if not match:
        raise click.BadParameter("use a number and d, h or m, e.g. 7d", param_hint="--since")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


@cli.command()
@click.option("--latency", type=float, default=0.0, help="Seconds the simulated Slack waits per call.")
@click.option("--console", is_flag=True, help="Then keep the servers up and open the web console.")
def demo(latency: float, console: bool) -> None:
    """Play an incident against the built-in Slack simulator and print what people see."""
    from bot.demo import run_demo

    run_demo(latency=latency, out=click.echo, console=_console_until_interrupted if console else None)


def _console_until_interrupted(url: str) -> None:
    click.echo(
        f'\nThe web console is at {url}/ : "Sign in with Slack" opens the simulator\'s sign-in page;'
        " choose Alice (or Dave, an admin). Press Ctrl-C to stop."
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopped.")


def _open_database(settings: Settings) -> None:
    """Open (and for a new SQLite file, create) the database, or stop with one line."""
    from storage import migrate

    _guarded(lambda: migrate.open_database(settings.database_url))


def _guarded(action: Callable[[], T]) -> T:
    """Run `action`; an error meant for people (a setting, the database) becomes one line."""
    from storage.migrate import DatabaseUnavailable, SchemaBehind

    try:
        return action()
    except (WarroomError, SchemaBehind, DatabaseUnavailable) as exc:
        message = exc.user_message if isinstance(exc, WarroomError) else str(exc)
        raise click.ClickException(message) from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="warroom")


if __name__ == "__main__":
    main()
