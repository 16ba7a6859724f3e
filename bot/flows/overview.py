"""Read-only answers after the ack: `/incident timeline` and the Home tab, as jobs.

The timeline needs the asker and the incident (number or war room) and answers only the asker
through the command's response URL: an ephemeral answer leaves no trace to look for, so it is
at most once (a crash after sending and before the job is done may send it again). Home needs
the user id; views.publish replaces the whole tab, so a retry simply publishes again.
Keys: the command's trigger, the event's id.
"""

from __future__ import annotations

from bot import clock
from bot.deps import Deps
from bot.flows.effects import context_for, tell
from bot.incidents.notes import my_open_incidents, readable_timeline, visible_open_incidents
from bot.jobs.queue import Claimed
from bot.views.home import home_view
from bot.views.overview import timeline_messages
from storage.session import run_in_session

TIMELINE, HOME = "incident.timeline", "home.publish"
RESPONSE_URL_POSTS = 5  # Slack accepts five posts per response_url


def register(deps: Deps) -> None:
    """Run timeline and Home jobs in this process."""
    deps.jobs.register(TIMELINE, lambda job: send_timeline(deps, job))
    deps.jobs.register(HOME, lambda job: publish_home(deps, str(job.payload["user"])))


async def send_timeline(deps: Deps, job: Claimed) -> None:
    """Send the timeline in the reader's timezone, only to them (its last five messages)."""
    payload = job.payload
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])
    incident, events = await run_in_session(readable_timeline, payload["number"], payload["channel"], ctx)
    reader = await deps.slack.user(str(payload["user"]))
    for blocks in timeline_messages(incident, events, reader.get("tz"))[-RESPONSE_URL_POSTS:]:
        await tell(deps, job.tell or {}, f"Timeline of {incident.ref}", blocks)


async def publish_home(deps: Deps, user_id: str, *, notice: str = "") -> None:
    """Show `user_id` their open incidents and every open incident they may see."""
    mine = await run_in_session(my_open_incidents, user_id)
    visible, hidden = await run_in_session(visible_open_incidents, user_id, "")
    view = home_view(mine, visible, hidden=hidden, now=clock.now(), notice=notice)
    await deps.slack.publish_home(user_id, view)
