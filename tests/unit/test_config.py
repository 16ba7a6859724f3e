import pytest

from bot.config import SAMPLE_PLAYBOOKS, SAMPLE_TRIAGE, ConfigError, load_settings


def test_comma_separated_settings_become_lists(monkeypatch):
    monkeypatch.setenv("WARROOM_ADMINS", "U0ALICE, U0BOB")
    monkeypatch.setenv("PAGERDUTY_WEBHOOK_SECRETS", "old,new")
    settings = load_settings()
    assert settings.warroom_admins == ["U0ALICE", "U0BOB"]
    assert [s.get_secret_value() for s in settings.pagerduty_webhook_secrets] == ["old", "new"]


def test_malformed_setting_is_named_in_one_line(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("PORT is malformed")
    assert "\n" not in str(caught.value)


def test_malformed_secret_value_is_never_echoed(monkeypatch):
    monkeypatch.setenv("WARROOM_BROADCAST_CHANNEL", "#incidents-sekrit")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "WARROOM_BROADCAST_CHANNEL" in str(caught.value)
    assert "sekrit" not in str(caught.value)


def test_missing_required_setting_is_named():
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        load_settings(slack_bot_token="xoxb-1").require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


def test_secrets_do_not_print():
    settings = load_settings(slack_bot_token="xoxb-very-secret", slack_signing_secret="shh-secret")
    assert "very-secret" not in repr(settings) and "shh-secret" not in str(settings)


def test_every_problem_is_reported_together_in_one_line(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.setenv("WARROOM_BROADCAST_CHANNEL", "#incidents")
    with pytest.raises(ConfigError) as caught:
        load_settings(require=["SLACK_BOT_TOKEN", "WARROOM_BROADCAST_CHANNEL"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("SLACK_BOT_TOKEN is not set; WARROOM_BROADCAST_CHANNEL is malformed: ")
    assert "; PORT is malformed: " in message and message.endswith("; see the settings table in README.md.")
    assert "#incidents" not in message and "eighty" not in message
    assert "WARROOM_BROADCAST_CHANNEL is not set" not in message  # set, though malformed


def test_token_prefixes_are_checked_without_echoing_the_token():
    with pytest.raises(ConfigError) as caught:
        load_settings(slack_bot_token="xoxp-user-sekrit", slack_app_token="xoxb-bot-sekrit")
    message = str(caught.value)
    assert "SLACK_BOT_TOKEN is malformed: must start with xoxb-" in message
    assert "SLACK_APP_TOKEN is malformed: must start with xapp-" in message
    assert "sekrit" not in message
    assert load_settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1").slack_app_token is not None


def test_simulator_token_is_a_bot_token():
    from bot.simulator import SlackSimulator

    assert SlackSimulator().token.startswith("xoxb-")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db.example:5432/warroom", "postgresql+psycopg://u:p@db.example:5432/warroom"),
        ("postgresql://u@db/warroom", "postgresql+psycopg://u@db/warroom"),
        ("postgresql+psycopg://u@db/warroom", "postgresql+psycopg://u@db/warroom"),
        ("sqlite:///warroom.db", "sqlite:///warroom.db"),
    ],
)
def test_postgres_urls_use_the_psycopg_driver(given, used):
    assert load_settings(database_url=given).database_url == used


@pytest.mark.parametrize(
    "url", ["mysql://u:sekrit@db/w", "postgresql+psycopg2://u:sekrit@db/w", "postgres://u:sekrit@db:port/w"]
)
def test_other_database_urls_are_refused_without_echoing_them(url):
    with pytest.raises(ConfigError, match=r"^DATABASE_URL is malformed: ") as caught:
        load_settings(database_url=url)
    assert "sekrit" not in str(caught.value)


def test_configured_paths_must_exist(tmp_path):
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    settings = load_settings(warroom_playbooks_dir=tmp_path, warroom_triage_rules=tmp_path / "rules.yaml")
    assert settings.warroom_playbooks_dir == tmp_path
    with pytest.raises(ConfigError) as caught:
        load_settings(warroom_playbooks_dir=tmp_path / "rules.yaml", warroom_triage_rules=tmp_path)
    assert str(caught.value) == (
        "WARROOM_PLAYBOOKS_DIR names a file, not a directory; "
        "WARROOM_TRIAGE_RULES names a directory, not a file; see the settings table in README.md."
    )


def test_packaged_samples_are_the_defaults(tmp_path, monkeypatch):
    """Wherever Warroom starts, it finds the sample runbooks and triage rules it ships."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WARROOM_PLAYBOOKS_DIR", raising=False)
    monkeypatch.delenv("WARROOM_TRIAGE_RULES", raising=False)
    settings = load_settings()
    assert settings.warroom_playbooks_dir == SAMPLE_PLAYBOOKS and SAMPLE_PLAYBOOKS.is_absolute()
    assert len(list(settings.warroom_playbooks_dir.glob("*.md"))) >= 4
    assert settings.warroom_triage_rules == SAMPLE_TRIAGE and SAMPLE_TRIAGE.is_file()
