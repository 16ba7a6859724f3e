import fcntl

import httpx
from click.testing import CliRunner

from bot.cli import cli
from bot.demo import run_demo
from bot.simulator.signin import sign_in_as
from storage import migrate


def test_serve_without_tokens_stops_with_one_line_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: SLACK_BOT_TOKEN is not set; SLACK_SIGNING_SECRET is not set; "
        "see the settings table in README.md."
    ]


def test_malformed_setting_stops_start_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "DATABASE_URL is malformed" in result.output and "mysql://nope" not in result.output


def test_db_upgrade_migrates_a_new_database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"Database at migration {migrate.head_revision(url)}" in result.output


def test_demo_prints_what_people_see():
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Declaring INC-1 (SEV2): Checkout returns 500s…" in out
    assert "#inc-1-checkout-returns-500s · topic: SEV2 · Investigating · IC @alice" in out
    assert "📌 pinned card: INC-1 · Checkout returns 500s" in out
    assert "INC-1 declared" in out
    assert "@alice handed the incident commander role from @alice to @bob." in out
    assert "topic: SEV1 · Investigating · IC @bob" in out
    assert "(only you) Added the message to the INC-1 timeline." in out
    assert "@bob closed INC-1." in out
    assert "Runbook: Checkout returns 5xx after a deploy" in out
    assert "@bob asks to run *Roll back checkout to the previous release*" in out
    assert "requested by @bob, approved by @carol." in out
    endpoint = "(the automation endpoint received 1 call: /deploys/rollback {'release': 'v41'}"
    assert f"{endpoint} key=warroom-run-1)" in out
    assert "*Role* @alice: Incident commander: @alice → @bob" in out
    assert "(Warroom answered PagerDuty 202)" in out and "new channel #inc-2-checkout-5xx-rate-above-5" in out
    assert "Matched on alert Checkout 5xx*, keywords checkout, 5xx." in out
    assert ":pager: Opened from PagerDuty incident #4211" in out and "invited @warroom" not in out
    assert "@carol paged the on-call of Orders DB: Bob Baker" in out
    assert "Level 1: Bob Baker (bob@example.com)" in out
    assert out.index("@carol paged the on-call") < out.index("@bob closed INC-1.")  # the story ends there
    assert "(form opened) Close INC-1" in out and "📎 INC-1-postmortem.md, INC-1-postmortem.json" in out
    assert "--- INC-1-postmortem.md ---\n# INC-1: Checkout returns 500s" in out
    assert "mitigated in 9 min · resolved in 28 min" in out
    assert "| commander | @bob | " in out and "- Approved by: @carol" in out
    assert "- [x] Page on checkout 5xx before customers notice (@carol, due " in out and "closed)" in out
    assert "| note | @carol | Error rate is back under 0.5% after the rollback (added by @alice) |" in out
    assert "## Summary\n\nResolved: Rolled back to v41" in out
    assert "(Warroom answered Alertmanager 202)" in out
    assert "#alerts @warroom: :bell: Low-urgency Alertmanager alert on *workers*: Disk on worker-3" in out
    assert ":broom: #1 alerts labelled alertname=DiskFillingUp" in out and "marked as noise by @dave" in out
    assert "(no notice: the rule made from Slack ignores it, so it is only counted)" in out
    assert ":ticket: Follow-up filed as acme/incidents#1: Page on checkout 5xx before customers notice" in out
    assert "Follow-up done: acme/incidents#1 was closed by carol-gh in GitHub" in out


def test_demo_console_keeps_the_servers_up_with_the_console_signed_in_through_the_simulator():
    seen: dict[str, str] = {}

    def visit(url: str) -> None:  # what a person does with the printed address
        with httpx.Client(base_url=url) as browser:
            start = browser.get("/signin")
            back = sign_in_as(start.headers["location"], "U0ALICE")
            assert browser.get(back.removeprefix(url)).status_code == 303
            seen["list"] = browser.get("/incidents", params={"tab": "all"}).text
            seen["incident"] = browser.get("/incidents/INC-1").text

    run_demo(out=lambda line: None, console=visit)
    assert "INC-1" in seen["list"] and "Checkout returns 500s" in seen["list"]
    assert "Roll back checkout to the previous release" in seen["incident"]  # the run the story made
    assert "Postmortem draft" in seen["incident"]


def serve_env(monkeypatch, url: str) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("DATABASE_URL", url)


def test_several_workers_on_sqlite_are_refused_in_one_line(tmp_path, monkeypatch):
    serve_env(monkeypatch, f"sqlite:///{tmp_path / 'w.db'}")
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --workers 2 needs Postgres: SQLite serves one Warroom process; "
        "set DATABASE_URL to a postgresql:// database to run several."
    ]


def test_a_second_process_on_the_same_sqlite_file_is_refused_in_one_line(tmp_path, monkeypatch):
    database = tmp_path / "w.db"
    serve_env(monkeypatch, f"sqlite:///{database}")
    with open(f"{database}.lock", "a") as held:  # what a running `warroom serve` holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: Another Warroom process is using {database}: SQLite serves one process; "
        "stop the other, or set DATABASE_URL to a postgresql:// database to run several."
    ]
