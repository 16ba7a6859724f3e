"""The Bolt app factory."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger import messages

from bot.deps import Deps
from bot.flows import alerts as _alerts
from bot.flows import archive as _archive
from bot.flows import calls as _calls
from bot.flows import capture as _capture
from bot.flows import changes as _changes
from bot.flows import closing as _closing
from bot.flows import followups as _followups
from bot.flows import linked as _linked
from bot.flows import messages as _messages
from bot.flows import overview as _overview
from bot.flows import paging as _paging
from bot.flows import reminders as _reminders
from bot.flows import requests as _requests
from bot.flows import rooms as _rooms
from bot.flows import rules as _rules
from bot.flows import runbooks as _runbooks
from bot.flows import runs as _runs
from bot.flows import tickets as _tickets
from bot.flows import triage as _triage
from bot.slack import access, errors
from bot.slack.commands import Router
from bot.slack.listeners import (
    alerts,
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

# Bolt warns at construction that the token it finds in SLACK_BOT_TOKEN gives way to our client
# and authorize function; that is the intent, so the warnings are noise.
_EXPECTED = frozenset(
    {messages.warning_client_prioritized_and_token_skipped(), messages.warning_token_skipped()}
)
# the after-ack jobs, each registering its kinds with the dispatcher
FLOWS = (
    _calls,
    _changes,
    _messages,
    _capture,
    _reminders,
    _followups,
    _archive,
    _closing,
    _overview,
    _alerts,
    _linked,
    _paging,
    _rooms,
    _requests,
    _runs,
    _runbooks,
    _triage,
    _rules,
    _tickets,
)
bolt_log = logging.getLogger("bot.slack.bolt")
bolt_log.addFilter(lambda record: record.getMessage() not in _EXPECTED)


def build_app(deps: Deps) -> AsyncApp:
    """An `AsyncApp` with every listener registered, talking to `SLACK_API_URL`."""
    settings = deps.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    with _without_oauth_environment():
        app = _bolt_app(deps, token)
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
    alerts.register(app, deps, router)
    for flow in FLOWS:
        flow.register(deps)
    access.register(app, deps)
    capture.register(app, deps)
    card.register(app, deps)
    reminders.register(app, deps)
    home.register(app, deps)
    errors.register(app)
    return app


def _bolt_app(deps: Deps, token: str) -> AsyncApp:
    secret = deps.settings.slack_signing_secret
    return AsyncApp(
        client=deps.slack.client,
        signing_secret=secret.get_secret_value() if secret else None,
        request_verification_enabled=secret is not None,
        before_authorize=access.workspace_gate(deps.slack.state),
        authorize=access.authorize_from(deps.slack.state, token),
        # Listeners only ack and hand off to the worker, so answering when they return is
        # immediate; otherwise Bolt polls for the ack every 10 ms.
        process_before_response=True,
        logger=bolt_log,
    )


@contextmanager
def _without_oauth_environment() -> Iterator[None]:
    """Hide SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (the console's Sign in with Slack) from Bolt,
    which would otherwise switch to its OAuth installation flow and stop using the bot token."""
    hidden = {name: os.environ.pop(name) for name in _OAUTH_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(hidden)


_OAUTH_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
