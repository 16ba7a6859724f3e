"""Settings read from the environment (and `.env`), validated once at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import WarroomError

CommaList = Annotated[list[str], NoDecode]
_SLACK_ID = re.compile(r"^[CGDUWS][A-Z0-9]{2,}$")


class ConfigError(WarroomError):
    """A setting is missing or malformed; the message names it and never its value."""


class Settings(BaseSettings):
    """Every setting Warroom reads; secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///warroom.db"
    warroom_broadcast_channel: str | None = None
    warroom_playbooks_dir: Path = Path("playbooks")
    warroom_admins: CommaList = Field(default_factory=list)
    warroom_remediation_hosts: CommaList = Field(default_factory=list)
    warroom_remediation_http_hosts: CommaList = Field(default_factory=list)
    warroom_dry_run: bool = False
    warroom_timeline_reaction: str = Field(default="pushpin", pattern=r"^[a-z0-9_+'-]{1,100}$")
    warroom_reminder_minutes: Annotated[dict[int, int], NoDecode] = Field(
        default_factory=lambda: {1: 15, 2: 30, 3: 60, 4: 0}
    )
    warroom_workers: int = Field(default=8, ge=1, le=64)
    warroom_queue_size: int = Field(default=1000, ge=1)
    pagerduty_api_token: SecretStr | None = None
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_from_email: str | None = None
    warroom_triage_rules: Path = Path("triage.yaml")
    warroom_resolve_pagerduty: bool = True
    warroom_alert_report_channel: str | None = None
    warroom_archive_after_days: float = Field(default=7, ge=0)  # 0 keeps closed war rooms
    pagerduty_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator(
        "warroom_admins", "warroom_remediation_hosts", "warroom_remediation_http_hosts", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("pagerduty_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [SecretStr(item.strip()) for item in value.split(",") if item.strip()]
        return value

    @field_validator("warroom_reminder_minutes", mode="before")
    @classmethod
    def _reminders(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        minutes = {1: 15, 2: 30, 3: 60, 4: 0}
        for item in filter(None, (part.strip() for part in value.split(","))):
            match = re.fullmatch(r"sev([1-4])=(\d{1,4})", item.lower())
            if not match:
                raise ValueError("use e.g. sev1=15,sev2=30,sev3=60,sev4=0 (minutes; 0 turns reminders off)")
            minutes[int(match.group(1))] = int(match.group(2))
        return minutes

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    @field_validator("warroom_broadcast_channel")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        if value and not _SLACK_ID.match(value):
            raise ValueError("must be a Slack channel id such as C0123ABCD")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    def require(self, *names: str) -> None:
        """Raise `ConfigError` naming the first of `names` that is unset."""
        for name in names:
            if not getattr(self, name.lower()):
                raise ConfigError(f"{name.upper()} is not set; see the settings table in README.md.")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{name} is malformed: {first['msg']}.") from None
