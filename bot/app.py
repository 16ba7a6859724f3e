"""The Bolt app factory."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.slack import errors
from bot.slack.commands import Router
from bot.slack.listeners import (
    capture,
    card,
    declare,
    followups,
    home,
    incident,
    manage,
    overview,
    paging,
    postmortem,
    remediation,
    reminders,
    runbooks,
)

log = logging.getLogger(__name__)


def build_app(deps: Deps) -> AsyncApp:
    """An `AsyncApp` with every listener registered, talking to `SLACK_API_URL`."""
    settings = deps.settings
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=deps.slack.client,
        signing_secret=secret.get_secret_value() if secret else None,
        request_verification_enabled=secret is not None,
        # Listeners only ack and hand off to the worker, so answering when they return is
        # immediate; otherwise Bolt polls for the ack every 10 ms.
        process_before_response=True,
        logger=log,
    )
    router = Router()
    incident.register(app, deps, router)
    declare.register(app, deps, router)
    manage.register(app, deps, router)
    overview.register(app, deps, router)
    runbooks.register(app, deps, router)
    remediation.register(app, deps, router)
    paging.register(app, deps, router)
    followups.register(app, deps, router)
    postmortem.register(app, deps, router)
    capture.register(app, deps)
    card.register(app, deps)
    reminders.register(app, deps)
    home.register(app, deps)
    errors.register(app)
    return app
