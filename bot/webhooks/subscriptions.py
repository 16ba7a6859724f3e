"""The endpoints in `WARROOM_WEBHOOKS` (a YAML list), validated whole: a bad file stops start-up
with the file, the endpoint and the field named, rather than quietly sending less."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import WarroomError
from bot.webhooks.events import EVENT_TYPES


class BadSubscriptions(WarroomError):
    """The webhooks file cannot be used; the message says where and why."""


class Endpoint(BaseModel):
    """One receiver: where, with which secret, for which event types, and whether it may see
    private incidents (else their events are redacted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    url: str = Field(min_length=8, max_length=2000)
    secret_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,99}$", description="the variable holding whsec_…")
    events: tuple[str, ...] = ("*",)
    private: bool = False

    @field_validator("events")
    @classmethod
    def _known(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(kind, pattern) for kind in EVENT_TYPES):
                raise ValueError(f"{pattern!r} matches no event type ({', '.join(sorted(EVENT_TYPES))})")
        return patterns

    def wants(self, kind: str) -> bool:
        """Whether this endpoint subscribes to events of `kind`."""
        return any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.events)

    def secret(self) -> str:
        """The signing secret, read from the environment when needed (never kept in a file)."""
        return os.environ.get(self.secret_env, "")


class Subscriptions(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoints: tuple[Endpoint, ...] = ()

    @field_validator("endpoints")
    @classmethod
    def _unique(cls, endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        names = [endpoint.name for endpoint in endpoints]
        if len(names) != len(set(names)):
            raise ValueError("two endpoints have the same name")
        return endpoints


_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{16,}={0,2}$")


def load_subscriptions(path: Path | None) -> Subscriptions:
    """The endpoints in `path` (none without one); BadSubscriptions names what is wrong, including
    an endpoint whose secret variable is unset or not a `whsec_` secret."""
    if path is None:
        return Subscriptions()
    try:
        loaded = Subscriptions.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except OSError as exc:
        raise BadSubscriptions(f"WARROOM_WEBHOOKS: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BadSubscriptions(f"WARROOM_WEBHOOKS: {path} is not YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadSubscriptions(f"WARROOM_WEBHOOKS: {path}: {where}: {first['msg']}") from None
    for endpoint in loaded.endpoints:
        if not _SECRET.match(endpoint.secret()):
            raise BadSubscriptions(
                f"WARROOM_WEBHOOKS: {path}: endpoint {endpoint.name}: {endpoint.secret_env} must hold a "
                "whsec_ secret (base64 after the prefix)"
            )
    return loaded
