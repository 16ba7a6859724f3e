"""Settings read from the environment (and `.env`), validated once at start-up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.errors import WarroomError

CommaList = Annotated[list[str], NoDecode]
_SLACK_ID = re.compile(r"^[CGDUWS][A-Z0-9]{2,}$")
_HERE = Path(__file__).resolve().parent
_SEE = "see the settings table in README.md"


def sample_path(name: str) -> Path:
    """A sample file Warroom ships (`playbooks`, `triage.yaml`): the copy packed into the wheel
    (`bot/samples/`), else the top-level one of a source checkout or editable install."""
    packaged = _HERE / "samples" / name
    return packaged if packaged.exists() else _HERE.parent / name


SAMPLE_PLAYBOOKS = sample_path("playbooks")
SAMPLE_TRIAGE = sample_path("triage.yaml")


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
    warroom_playbooks_dir: Path = SAMPLE_PLAYBOOKS
    warroom_admins: CommaList = Field(default_factory=list)
    warroom_remediation_hosts: CommaList = Field(default_factory=list)
    warroom_remediation_http_hosts: CommaList = Field(default_factory=list)
    warroom_webhooks: Path | None = None  # outgoing webhook endpoints (YAML)
    warroom_rules: Path | None = None  # rules on incident events (YAML)
    warroom_webhook_hosts: CommaList = Field(default_factory=list)
    warroom_webhook_http_hosts: CommaList = Field(default_factory=list)
    warroom_dry_run: bool = False
    warroom_timeline_reaction: str = Field(default="pushpin", pattern=r"^[a-z0-9_+'-]{1,100}$")
    warroom_reminder_minutes: Annotated[dict[int, int], NoDecode] = Field(
        default_factory=lambda: {1: 15, 2: 30, 3: 60, 4: 0}
    )
    warroom_workers: int = Field(default=8, ge=1, le=64)
    warroom_queue_size: int = Field(default=1000, ge=1)
    warroom_job_lease_seconds: float = Field(default=30, ge=1, le=3600)
    warroom_shutdown_grace_seconds: float = Field(default=20, ge=0, le=3600)
    pagerduty_api_token: SecretStr | None = None
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_from_email: str | None = None
    warroom_triage_rules: Path = SAMPLE_TRIAGE
    warroom_resolve_pagerduty: bool = True
    warroom_alert_report_channel: str | None = None
    warroom_archive_after_days: float = Field(default=7, ge=0)  # 0 keeps closed war rooms
    pagerduty_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    warroom_alertmanager_token: SecretStr | None = None
    warroom_grafana_token: SecretStr | None = None
    warroom_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    warroom_unknown_alerts: Literal["high", "low"] = "high"
    warroom_triage_group: str | None = Field(default=None, pattern=r"^S[A-Z0-9]{2,}$")
    warroom_oncall_timezone: str = "UTC"  # where night pages are counted (IANA name)
    warroom_api_rate_limit: int = Field(default=600, ge=1, le=100_000)  # API requests a minute per token
    slack_client_id: str | None = Field(default=None, pattern=r"^[0-9]+\.[0-9]+$")  # Sign in with Slack
    slack_client_secret: SecretStr | None = None
    warroom_base_url: str | None = None  # where people open the console, e.g. https://warroom.example.com
    warroom_console_session_hours: float = Field(default=12, gt=0, le=24 * 30)
    warroom_call_url: str | None = None  # the incident's call: a link, or a template with {number}/{slug}
    zoom_account_id: str | None = None  # a Zoom meeting per incident (Server-to-Server OAuth app)
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_oauth_url: str = "https://zoom.us"
    zoom_api_url: str = "https://api.zoom.us"
    github_token: SecretStr | None = None  # follow-ups as GitHub issues
    github_api_url: str = "https://api.github.com"
    github_webhook_secret: SecretStr | None = None  # the `issues` webhook's secret
    warroom_github_repository: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    warroom_github_labels: CommaList = Field(default_factory=lambda: ["incident-follow-up"])
    warroom_github_users: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    jira_base_url: str | None = Field(
        default=None, pattern=r"^https?://[^/?#\s]+/?$"
    )  # https://acme.atlassian.net
    jira_email: str | None = None  # the account the API token belongs to
    jira_api_token: SecretStr | None = None
    jira_webhook_secret: SecretStr | None = None
    warroom_jira_project: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{1,9}$")
    warroom_jira_issue_type: str = Field(default="Task", min_length=1, max_length=60)
    warroom_tickets_default: Literal["github", "jira"] | None = None  # when both are set up
    warroom_tickets_by_service: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator(
        "warroom_admins",
        "warroom_remediation_hosts",
        "warroom_remediation_http_hosts",
        "warroom_webhook_hosts",
        "warroom_webhook_http_hosts",
        "warroom_github_labels",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return _comma_items(value) if isinstance(value, str) else value

    @field_validator("pagerduty_webhook_secrets", "warroom_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        return [SecretStr(item) for item in _comma_items(value)] if isinstance(value, str) else value

    @field_validator("warroom_github_users", mode="before")
    @classmethod
    def _github_users(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        users: dict[str, str] = {}
        for item in _comma_items(value):
            match = re.fullmatch(r"([UW][A-Z0-9]{2,})=([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))", item)
            if not match:
                raise ValueError(
                    "use Slack user id=GitHub login pairs, e.g. U0123ABCD=octocat,U0456EFGH=hubot"
                )
            users[match.group(1)] = match.group(2)
        return users

    @field_validator("warroom_tickets_by_service", mode="before")
    @classmethod
    def _tickets_by_service(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        chosen: dict[str, str] = {}
        for item in _comma_items(value):
            service, _, tracker = item.rpartition("=")
            if not service.strip() or tracker.strip() not in ("github", "jira"):
                raise ValueError("use service=github or service=jira pairs, e.g. checkout=jira,search=github")
            chosen[service.strip().lower()] = tracker.strip()
        return chosen

    @field_validator("warroom_reminder_minutes", mode="before")
    @classmethod
    def _reminders(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        minutes = {1: 15, 2: 30, 3: 60, 4: 0}
        for item in _comma_items(value):
            match = re.fullmatch(r"sev([1-4])=(\d{1,4})", item.lower())
            if not match:
                raise ValueError("use e.g. sev1=15,sev2=30,sev3=60,sev4=0 (minutes; 0 turns reminders off)")
            minutes[int(match.group(1))] = int(match.group(2))
        return minutes

    @field_validator("warroom_oncall_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    @field_validator("warroom_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
            raise ValueError("must be the console's address, such as https://warroom.example.com")
        return value.rstrip("/") if value else None

    @property
    def console_sign_in(self) -> bool:
        """Whether Sign in with Slack is configured: client id, client secret and base URL."""
        return bool(self.slack_client_id and self.slack_client_secret and self.warroom_base_url)

    @field_validator("warroom_call_url")
    @classmethod
    def _call_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            example = value.format(number=7, slug="checkout-returns-500s")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "may only use {number} and {slug}, e.g. https://meet.example.com/inc-{number}"
            ) from None
        if not re.fullmatch(r"https?://[^\s<>|]+", example):
            raise ValueError("must be an http(s) link, e.g. https://meet.example.com/inc-{number}")
        return value

    @field_validator("warroom_broadcast_channel")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        if value and not _SLACK_ID.match(value):
            raise ValueError("must be a Slack channel id such as C0123ABCD")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return database_url(value)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb- (the Bot User OAuth Token)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp- (an app-level token with connections:write)")
        return value

    @field_validator("warroom_playbooks_dir")
    @classmethod
    def _playbooks_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            cause = "a file, not a directory" if value.exists() else "a directory that does not exist"
            raise PydanticCustomError("missing_path", "names " + cause)
        return value

    @field_validator("warroom_triage_rules")
    @classmethod
    def _triage_rules(cls, value: Path) -> Path:
        if not value.is_file():
            cause = "a directory, not a file" if value.exists() else "a file that does not exist"
            raise PydanticCustomError("missing_path", "names " + cause)
        return value

    def require(self, *names: str) -> None:
        """Raise `ConfigError` naming every one of `names` that is unset (in the settings' order)."""
        wanted = {name.lower() for name in names}
        if unknown := wanted - set(type(self).model_fields):
            raise AttributeError(f"no such setting: {', '.join(sorted(unknown))}")
        unset = [name for name in type(self).model_fields if name in wanted and not getattr(self, name)]
        if unset:
            raise ConfigError(_one_line([f"{name.upper()} is not set" for name in unset]))


def _comma_items(text: str) -> list[str]:
    """The non-empty items of a comma-separated setting, without their surrounding spaces."""
    return [item.strip() for item in text.split(",") if item.strip()]


def database_url(value: str) -> str:
    """`value` checked, with `postgres://` and `postgresql://` (as Heroku, Dokku and others set
    them) mapped to the psycopg driver; a malformed URL is refused without echoing it."""
    for plain in ("postgres://", "postgresql://"):
        if value.startswith(plain):
            value = "postgresql+psycopg://" + value[len(plain) :]
    if not value.startswith(("sqlite://", "postgresql+psycopg://")):
        raise ValueError("must be a sqlite:///… or postgresql://… URL")
    from sqlalchemy.engine import make_url

    try:
        make_url(value).port  # noqa: B018  (a port that is not a number raises here)
    except Exception:
        raise ValueError("not a URL the database driver can read") from None
    return value


def load_settings(*, require: Iterable[str] = (), **overrides: object) -> Settings:
    """Read the settings; raise one `ConfigError` naming every malformed setting and every one
    of `require` that is unset, in one line, never with a value."""
    required = [name.lower() for name in require]
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        malformed = _malformed(exc)
        # Which of the required settings are set, with the malformed ones put back to defaults.
        fields = Settings.model_fields
        defaults: dict[str, Any] = {
            name: fields[name].get_default(call_default_factory=True) for name in malformed if name in fields
        }
        try:
            settings = Settings(**{**overrides, **defaults})
            missing = {name for name in required if name not in malformed and not getattr(settings, name)}
        except (ValidationError, SettingsError):
            missing = set()
        problems = [
            malformed[name] if name in malformed else f"{name.upper()} is not set"
            for name in [*fields, *(name for name in malformed if name not in fields)]
            if name in malformed or name in missing
        ]
        raise ConfigError(_one_line(problems)) from None
    except SettingsError as exc:
        raise ConfigError(_one_line([str(exc).splitlines()[0]])) from None
    settings.require(*required)
    return settings


def _malformed(error: ValidationError) -> dict[str, str]:
    """Setting name → what is wrong with it, the first error of each, never its value."""
    found: dict[str, str] = {}
    for detail in error.errors(include_input=False, include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else "settings"
        reason = str(detail["msg"]).removeprefix("Value error, ").rstrip(".")
        if name not in found:
            found[name] = (
                f"{name.upper()} {reason}"
                if detail["type"] == "missing_path"
                else f"{name.upper()} is malformed: {reason}"
            )
    return found


def _one_line(problems: list[str]) -> str:
    return "; ".join(problems) + f"; {_SEE}."
