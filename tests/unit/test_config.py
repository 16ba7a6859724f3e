import pytest

from bot.config import ConfigError, load_settings


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
