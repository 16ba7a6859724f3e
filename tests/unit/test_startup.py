"""Start-up through the real `warroom` command: a database that cannot be reached or opened,
and settings that are missing or malformed, each stop it with one line and create nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

LOCAL_POSTGRES = ("127.0.0.1", 5432)
UNREACHABLE = "Error: DATABASE_URL: cannot reach Postgres"
SETTINGS = (
    "DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "WARROOM_PLAYBOOKS_DIR",
    "WARROOM_TRIAGE_RULES",
    "PORT",
)


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from the caller's environment or `.env`; relative paths land in tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def one_line(args: list[str], **env: str) -> str:
    """Run `warroom ARGS` with `env`; it must fail (exit 1) with exactly one line, returned."""
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_postgres_up() -> bool:
    try:
        socket.create_connection(LOCAL_POSTGRES, timeout=1).close()
    except OSError:
        return False
    return True


needs_postgres = pytest.mark.skipif(not local_postgres_up(), reason="no Postgres on 127.0.0.1:5432")


def database_names() -> set[str]:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as connection:
        return {row[0] for row in connection.execute("SELECT datname FROM pg_database")}


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A new, empty Postgres database on the local server, dropped afterwards."""
    import psycopg

    name = f"warroom_cli_{uuid.uuid4().hex[:10]}"
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_on_a_closed_port_stops_with_one_line():
    port = closed_port()
    line = one_line(["db", "upgrade"], DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/test")
    assert line == f"{UNREACHABLE} at 127.0.0.1:{port}: connection refused."


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path):
    """The console script itself, as a Procfile's release step runs it."""
    script = Path(sys.executable).with_name("warroom")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["DATABASE_URL"] = f"postgres://postgres:hunter2@127.0.0.1:{closed_port()}/test"
    done = subprocess.run(
        [*command, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("Error: DATABASE_URL: cannot reach Postgres at 127.0.0.1:")
    assert "hunter2" not in done.stderr


@needs_postgres
def test_a_role_that_does_not_exist_stops_with_one_line():
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://{role}:secret-pw@127.0.0.1:5432/test"
    line = one_line(["db", "upgrade"], DATABASE_URL=url)
    assert line == f'{UNREACHABLE} at 127.0.0.1:5432: role "{role}" does not exist.'
    assert "secret-pw" not in line


@needs_postgres
def test_a_database_that_does_not_exist_is_named_and_not_created():
    name = f"warroom_missing_{uuid.uuid4().hex[:8]}"
    line = one_line(["db", "upgrade"], DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}")
    assert line == f'{UNREACHABLE} at 127.0.0.1:5432: database "{name}" does not exist.'
    assert name not in database_names()


@needs_postgres
def test_heroku_style_postgres_url_upgrades(scratch_database):
    """`postgres://…`, as Heroku and Dokku set it, is the psycopg driver: the release step works."""
    result = CliRunner().invoke(
        cli, ["db", "upgrade"], env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{scratch_database}"}
    )
    assert result.exit_code == 0, result.output
    assert "Database at migration 0007" in result.output
    again = CliRunner().invoke(
        cli,
        ["report", "incidents"],
        env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{scratch_database}"},
    )
    assert again.exit_code == 0, again.output


def test_sqlite_in_a_missing_directory_creates_nothing(tmp_path):
    path = tmp_path / "missing" / "w.db"
    for args in (["db", "upgrade"], ["report", "alerts"]):
        line = one_line(args, DATABASE_URL=f"sqlite:///{path}")
        assert line == (
            f"Error: DATABASE_URL: cannot open the SQLite database {path}: "
            f"the directory {path.parent} does not exist."
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sqlite_under_a_file_or_at_a_directory_stops_with_one_line(tmp_path):
    (tmp_path / "plain").write_text("not a directory")
    (tmp_path / "adir").mkdir()
    line = one_line(["db", "upgrade"], DATABASE_URL=f"sqlite:///{tmp_path / 'plain' / 'sub' / 'w.db'}")
    assert line.endswith(f": {tmp_path / 'plain'} is a file, not a directory.")
    adir = tmp_path / "adir"
    line = one_line(["db", "upgrade"], DATABASE_URL=f"sqlite:///{adir}")
    assert line == f"Error: DATABASE_URL: cannot open the SQLite database {adir}: that path is a directory."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "plain"]
    assert list((tmp_path / "adir").iterdir()) == []


def test_unwritable_sqlite_path_stops_with_one_line_and_creates_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root may write anywhere on a normal filesystem; /proc refuses new files even to root
        where = locked if not os.access(locked, os.W_OK) else Path("/proc")
        path = where / f"warroom-{uuid.uuid4().hex[:8]}.db"
        line = one_line(["db", "upgrade"], DATABASE_URL=f"sqlite:///{path}")
        assert line.startswith(f"Error: DATABASE_URL: cannot open the SQLite database {path}: ")
        assert "\n" not in line and not path.exists()
    finally:
        locked.chmod(0o700)


def test_every_malformed_and_missing_setting_is_reported_in_one_line(tmp_path):
    line = one_line(
        ["serve"],
        SLACK_BOT_TOKEN="xoxp-user-token-sekrit",
        WARROOM_PLAYBOOKS_DIR=str(tmp_path / "no-such-books"),
        WARROOM_TRIAGE_RULES=str(tmp_path / "no-such-rules.yaml"),
        DATABASE_URL="mysql://root:pw@db/warroom",
    )
    assert line == (
        "Error: SLACK_BOT_TOKEN is malformed: must start with xoxb- (the Bot User OAuth Token); "
        "SLACK_SIGNING_SECRET is not set; "
        "DATABASE_URL is malformed: must be a sqlite:///… or postgresql://… URL; "
        "WARROOM_PLAYBOOKS_DIR names a directory that does not exist; "
        "WARROOM_TRIAGE_RULES names a file that does not exist; "
        "see the settings table in README.md."
    )
    assert "sekrit" not in line and "no-such" not in line and "pw@" not in line
    assert list(tmp_path.iterdir()) == []  # not even the default SQLite file


def test_socket_mode_checks_both_token_prefixes():
    line = one_line(
        ["socket"], SLACK_APP_TOKEN="xoxb-not-an-app-token", SLACK_BOT_TOKEN="xapp-not-a-bot-token"
    )
    assert line == (
        "Error: SLACK_BOT_TOKEN is malformed: must start with xoxb- (the Bot User OAuth Token); "
        "SLACK_APP_TOKEN is malformed: must start with xapp- (an app-level token with connections:write); "
        "see the settings table in README.md."
    )
    assert one_line(["socket"], SLACK_BOT_TOKEN="xoxb-1") == (
        "Error: SLACK_APP_TOKEN is not set; see the settings table in README.md."
    )


def test_version_comes_from_the_package_metadata():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"warroom, version {version('warroom')}\n"


def test_help_imports_nothing_heavy():
    """`warroom --help` loads click and the command table only (the rest is imported per command)."""
    heavy = ("sqlalchemy", "sqlmodel", "alembic", "pydantic", "pydantic_settings", "starlette", "slack_bolt")
    code = (
        "import sys\n"
        "from bot.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='warroom')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Usage: warroom" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
