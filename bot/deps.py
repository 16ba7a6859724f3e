"""What listeners and jobs share: settings, the Slack gateway, the worker and the runbooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.adapters.pagerduty import PagerDutyGateway
from bot.adapters.slack import SlackGateway
from bot.adapters.tracker_choice import Trackers
from bot.adapters.zoom import ZoomMeetings
from bot.alerts.triage import Rules, load_rules
from bot.config import Settings
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.queue import Claimed
from bot.playbooks.loader import load_for_app
from bot.playbooks.matching import Catalog
from bot.rules.model import RuleSet, load_rule_set
from bot.webhooks.subscriptions import Subscriptions, load_subscriptions
from bot.worker import Worker
from storage.session import Together


@dataclass
class Deps:
    """Built once per process in `bot.http.server` or `bot.cli`."""

    settings: Settings
    slack: SlackGateway
    worker: Worker
    jobs: Dispatcher
    catalog: Catalog
    rules: Rules
    pagerduty: PagerDutyGateway | None
    together: Together = field(default_factory=Together)  # request-path writes, one commit per burst
    subscriptions: Subscriptions = field(default_factory=Subscriptions)  # outgoing webhook endpoints
    rule_set: RuleSet = field(default_factory=RuleSet)  # rules on incident events
    trackers: Trackers = field(default_factory=lambda: Trackers([], None, {}))  # follow-ups as tickets
    zoom: ZoomMeetings | None = None  # a meeting per incident, when set up

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        """Wire the process-wide collaborators from settings."""
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        pd_token = settings.pagerduty_api_token
        slack = SlackGateway(token, settings.slack_api_url)

        async def tell(job: Claimed, text: str) -> None:
            where = job.tell or {}
            if where.get("response_url"):
                await slack.respond(str(where["response_url"]), text)
            elif where.get("channel") and where.get("user"):
                await slack.whisper(str(where["channel"]), str(where["user"]), text)

        return cls(
            settings=settings,
            slack=slack,
            worker=Worker(settings.warroom_workers, settings.warroom_queue_size),
            jobs=Dispatcher(
                settings.warroom_workers,
                tell=tell,
                paused=lambda: slack.state.lost_access is not None,
                lease=timedelta(seconds=settings.warroom_job_lease_seconds),
            ),
            catalog=Catalog(load_for_app(settings.warroom_playbooks_dir)),
            rules=load_rules(settings.warroom_triage_rules, settings.warroom_unknown_alerts),
            pagerduty=PagerDutyGateway(
                pd_token.get_secret_value(), settings.pagerduty_api_url, settings.pagerduty_from_email
            )
            if pd_token
            else None,
            subscriptions=load_subscriptions(settings.warroom_webhooks),
            rule_set=load_rule_set(settings.warroom_rules),
            trackers=Trackers.from_settings(settings),
            zoom=ZoomMeetings(
                settings.zoom_oauth_url,
                settings.zoom_api_url,
                settings.zoom_account_id,
                settings.zoom_client_id,
                settings.zoom_client_secret.get_secret_value(),
            )
            if settings.zoom_account_id and settings.zoom_client_id and settings.zoom_client_secret
            else None,
        )

    @property
    def can_page(self) -> bool:
        """Whether PagerDuty is set up to page (the declare form then offers a service picker)."""
        return self.pagerduty is not None and self.pagerduty.can_write
