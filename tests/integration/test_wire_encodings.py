"""Every Web API method Warroom calls goes out the way Slack reads it, and the simulator reads
it the same way: a JSON body only where Slack accepts one, form or query everywhere else."""

from __future__ import annotations

import asyncio
import inspect
import re

import httpx

import bot.adapters.slack
from bot.adapters.slack import SlackGateway
from bot.simulator import SlackSimulator
from bot.simulator.spec import load_specs

SPECS = load_specs()
MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": []}
SECTION = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Card*"}}]


def methods_the_gateway_calls() -> set[str]:
    """Every method name the gateway passes to `call`, read from its source."""
    return set(re.findall(r'self\.call\(\s*"([A-Za-z.]+)"', inspect.getsource(bot.adapters.slack)))


async def call_every_method(slack: SlackGateway, sim: SlackSimulator) -> None:
    """One successful call of each gateway method, plus the form Bolt's client opens."""
    await slack.bot_user_id()
    channel = await slack.create_channel("inc-1-wire", private=False)
    assert channel in [found["id"] async for found in slack.channels(private=False)]
    await slack.invite(channel, ["U0ALICE", "U0BOB"])
    await slack.set_topic(channel, "INC-1 wire")
    await slack.bookmark(channel, "Incident call", "https://meet.example.com/inc-1")
    assert await slack.bookmarked(channel) == ["https://meet.example.com/inc-1"]
    ts = await slack.post(channel, "card", SECTION)
    await slack.pin(channel, ts)
    await slack.update(channel, ts, "card v2", SECTION)
    assert await slack.permalink(channel, ts)
    assert (await slack.message(channel, ts) or {}).get("ts") == ts
    await slack.whisper(channel, "U0ALICE", "only you")
    sim.add_usergroup("S0ONCALL", ["U0ALICE"])
    assert await slack.group_members("S0ONCALL") == ["U0ALICE"]
    assert (await slack.user("U0ALICE"))["id"] == "U0ALICE"
    await slack.share(await slack.upload({"draft.md": b"# INC-1"}), channel, thread_ts=ts)
    await slack.publish_home("U0ALICE", {"type": "home", "blocks": SECTION})
    await slack.client.views_open(trigger_id=sim.issue_trigger(), view=MODAL)
    private = await slack.create_channel("inc-2-wire", private=True)
    await slack.invite(private, ["U0ALICE"])
    assert private in await slack.private_rooms("U0ALICE")
    assert private not in await slack.private_rooms("U0BOB")
    await slack.archive(channel)


def test_every_method_is_sent_in_an_encoding_slack_reads_and_succeeds(simulator: SlackSimulator):
    slack = SlackGateway(simulator.token, simulator.base_url)
    asyncio.run(call_every_method(slack, simulator))

    calls = simulator.calls
    assert methods_the_gateway_calls() | {"views.open"} <= {call.method for call in calls}
    for call in calls:
        assert call.ok, f"{call.method} failed: {call.error}"
        accepted = SPECS[call.method].encodings
        assert ("json" if call.encoding == "json" else "form") in accepted, (call.method, call.encoding)
    reads = {call.method: call.encoding for call in calls}
    assert reads["users.info"] == "query" and reads["conversations.history"] == "query"
    assert reads["users.conversations"] == "query"
    assert reads["files.getUploadURLExternal"] != "json" and reads["chat.postMessage"] == "json"


def test_simulator_ignores_a_json_body_where_slack_does(simulator: SlackSimulator):
    headers = {"Authorization": f"Bearer {simulator.token}"}
    url = simulator.base_url

    def error(method: str, **sent: object) -> str | None:
        body = httpx.post(url + method, headers=headers, **sent).json()  # type: ignore[arg-type]
        return None if body["ok"] else str(body["error"])

    assert error("users.info", json={"user": "U0ALICE"}) == "user_not_found"
    assert error("users.info", data={"user": "U0ALICE"}) is None
    assert error("conversations.history", json={"channel": "C0GENERAL"}) == "channel_not_found"
    assert error("files.getUploadURLExternal", json={"filename": "a.md", "length": 3}) == "invalid_arguments"
    assert error("chat.postMessage", json={"channel": "C0GENERAL", "text": "hi"}) is None
    assert [call.encoding for call in simulator.calls] == ["json", "form", "json", "json", "json"]
