"""The Slack simulator accepts what Slack accepts and rejects what Slack rejects."""

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.simulator import Call, SlackSimulator

TOKEN = "xoxb-sim"
MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": []}


@pytest.fixture(scope="module")
def sim() -> Iterator[SlackSimulator]:
    simulator = SlackSimulator(token=TOKEN, bot_user_id="U0BOT", team_id="T0TEAM")
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def fresh(sim: SlackSimulator) -> None:
    sim.reset()


@pytest.fixture
def slack(sim: SlackSimulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=sim.base_url)


def error_from(call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        call(**kwargs)
    return str(raised.value.response["error"])


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_auth_test_names_the_bot_and_team(slack: WebClient) -> None:
    reply = slack.auth_test()
    assert (reply["user_id"], reply["team_id"]) == ("U0BOT", "T0TEAM")


def test_create_makes_a_channel_with_the_bot_as_member(slack: WebClient, sim: SlackSimulator) -> None:
    channel = slack.conversations_create(name="inc-1-checkout")["channel"]
    assert channel["id"].startswith("C") and len(channel["id"]) == 9
    assert channel["creator"] == "U0BOT"
    assert sim.channel(channel["id"]) == sim.channel_by_name("inc-1-checkout")
    assert sim.channel(channel["id"])["members"] == ["U0BOT"]


def test_create_private_channel(slack: WebClient, sim: SlackSimulator) -> None:
    channel = slack.conversations_create(name="inc-2", is_private=True)["channel"]
    assert channel["is_private"] and sim.channel(channel["id"])["is_private"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Inc-1", "invalid_name_specials"),
        ("inc 1", "invalid_name_specials"),
        ("inc.1", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("", "invalid_name_required"),
        ("general", "name_taken"),
    ],
)
def test_create_rejects_bad_names(slack: WebClient, name: str, error: str) -> None:
    assert error_from(slack.conversations_create, name=name) == error


def test_create_rejects_the_name_of_an_archived_channel(slack: WebClient, sim: SlackSimulator) -> None:
    sim.add_channel("inc-old", is_archived=True)
    assert error_from(slack.conversations_create, name="inc-old") == "name_taken"


def test_invite_adds_people_and_refuses_repeats(slack: WebClient, sim: SlackSimulator) -> None:
    channel_id = slack.conversations_create(name="inc-3")["channel"]["id"]
    slack.conversations_invite(channel=channel_id, users=["U0ALICE", "U0BOB"])
    assert sim.channel(channel_id)["members"] == ["U0BOT", "U0ALICE", "U0BOB"]
    again = error_from(slack.conversations_invite, channel=channel_id, users="U0ALICE")
    assert again == "already_in_channel"
    slack.conversations_invite(channel=channel_id, users="U0ALICE,U0CAROL")
    assert sim.channel(channel_id)["members"][-1] == "U0CAROL"


@pytest.mark.parametrize(
    ("channel", "users", "error"),
    [
        ("C0GENERAL", "U0BOT", "cant_invite_self"),
        ("C0NOPE", "U0ALICE", "channel_not_found"),
        ("C0GENERAL", "U0NOBODY", "user_not_found"),
    ],
)
def test_invite_rejections(slack: WebClient, channel: str, users: str, error: str) -> None:
    assert error_from(slack.conversations_invite, channel=channel, users=users) == error


def test_invite_needs_the_bot_in_the_channel(slack: WebClient, sim: SlackSimulator) -> None:
    channel_id = sim.add_channel("elsewhere", members=["U0ALICE"])
    error = error_from(slack.conversations_invite, channel=channel_id, users="U0BOB")
    assert error == "not_in_channel"


def test_post_message_is_stored_with_an_increasing_ts(slack: WebClient, sim: SlackSimulator) -> None:
    first = slack.chat_postMessage(channel="C0BROADCAST", text="one")
    second = slack.chat_postMessage(channel="C0BROADCAST", blocks=[section("*two*")], text="two")
    assert float(second["ts"]) > float(first["ts"])
    stored = sim.channel("C0BROADCAST")["messages"]
    assert [m["text"] for m in stored] == ["one", "two"]
    assert stored[1]["blocks"] == [section("*two*")] and stored[1]["user"] == "U0BOT"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_without_text_or_blocks_is_no_text(slack: WebClient) -> None:
    assert error_from(slack.chat_postMessage, channel="C0GENERAL") == "no_text"


def test_post_message_rejections(slack: WebClient, sim: SlackSimulator) -> None:
    private = sim.add_channel("secret", is_private=True, members=["U0ALICE"])
    post = slack.chat_postMessage
    assert error_from(post, channel="C0GENERAL", text="x" * 40_001) == "msg_too_long"
    assert error_from(post, channel=private, text="hi") == "not_in_channel"
    assert error_from(post, channel="C0MISSING", text="hi") == "channel_not_found"
    blocks = [section(f"line {i}") for i in range(51)]
    assert error_from(post, channel="C0GENERAL", text="hi", blocks=blocks) == "invalid_blocks"


def test_post_message_to_a_public_channel_needs_no_membership(slack: WebClient, sim: SlackSimulator) -> None:
    public = sim.add_channel("open", members=["U0ALICE"])
    assert slack.chat_postMessage(channel=public, text="hello")["ok"]


def test_post_message_to_an_archived_channel(slack: WebClient, sim: SlackSimulator) -> None:
    archived = sim.add_channel("gone", members=["U0BOT"], is_archived=True)
    assert error_from(slack.chat_postMessage, channel=archived, text="hi") == "is_archived"


def test_invalid_blocks_say_what_and_where(slack: WebClient) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    button = {"type": "button", "text": {"type": "mrkdwn", "text": "Go"}, "action_id": "go"}
    blocks: list[dict[str, Any]] = [header, {"type": "actions", "elements": [button, button]}]
    with pytest.raises(SlackApiError) as raised:
        slack.chat_postMessage(channel="C0GENERAL", text="hi", blocks=blocks)
    messages = raised.value.response["response_metadata"]["messages"]
    assert any("/blocks/0/text/text" in m for m in messages)
    assert any("/blocks/1/elements/0/text/type" in m for m in messages)
    assert any("used more than once" in m for m in messages)


def test_update_replaces_text_and_keeps_blocks(slack: WebClient, sim: SlackSimulator) -> None:
    ts = slack.chat_postMessage(channel="C0GENERAL", text="old", blocks=[section("card")])["ts"]
    reply = slack.chat_update(channel="C0GENERAL", ts=ts, text="new")
    assert reply["text"] == "new"
    [message] = sim.channel("C0GENERAL")["messages"]
    assert message["text"] == "new" and message["blocks"] == [section("card")]
    missing = error_from(slack.chat_update, channel="C0GENERAL", ts="1.000001", text="x")
    assert missing == "message_not_found"


def test_pinning_twice_is_already_pinned(slack: WebClient, sim: SlackSimulator) -> None:
    ts = slack.chat_postMessage(channel="C0GENERAL", text="card")["ts"]
    slack.pins_add(channel="C0GENERAL", timestamp=ts)
    assert error_from(slack.pins_add, channel="C0GENERAL", timestamp=ts) == "already_pinned"
    assert sim.channel("C0GENERAL")["pins"] == [ts]


def test_topic_over_250_characters_is_too_long(slack: WebClient, sim: SlackSimulator) -> None:
    slack.conversations_setTopic(channel="C0GENERAL", topic="SEV2 · investigating")
    assert sim.channel("C0GENERAL")["topic"] == "SEV2 · investigating"
    long_topic = "x" * 251
    assert error_from(slack.conversations_setTopic, channel="C0GENERAL", topic=long_topic) == ("too_long")


def test_history_is_newest_first_and_paged(slack: WebClient) -> None:
    for n in range(3):
        slack.chat_postMessage(channel="C0GENERAL", text=f"m{n}")
    page = slack.conversations_history(channel="C0GENERAL", limit=2)
    assert [m["text"] for m in page["messages"]] == ["m2", "m1"] and page["has_more"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = slack.conversations_history(channel="C0GENERAL", limit=2, cursor=cursor)
    assert [m["text"] for m in rest["messages"]] == ["m0"] and not rest["has_more"]


def test_a_trigger_opens_one_modal(slack: WebClient, sim: SlackSimulator) -> None:
    view = slack.views_open(trigger_id="1111.2222.abcdef", view=MODAL)["view"]
    assert sim.views[view["id"]]["title"]["text"] == "Declare"
    again = error_from(slack.views_open, trigger_id="1111.2222.abcdef", view=MODAL)
    assert again == "exchanged_trigger_id"


def test_expired_triggers_are_refused(slack: WebClient, sim: SlackSimulator) -> None:
    trigger_id = sim.issue_trigger()
    sim.expire_triggers()
    assert error_from(slack.views_open, trigger_id=trigger_id, view=MODAL) == "expired_trigger_id"


def test_modal_title_over_24_characters_is_invalid(slack: WebClient) -> None:
    view = MODAL | {"title": {"type": "plain_text", "text": "A title that is far too long"}}
    with pytest.raises(SlackApiError) as raised:
        slack.views_open(trigger_id="1.2.3", view=view)
    assert raised.value.response["error"] == "invalid_arguments"
    assert "/view/title/text" in raised.value.response["response_metadata"]["messages"][0]


def test_published_home_is_kept_per_person(slack: WebClient, sim: SlackSimulator) -> None:
    slack.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": [section("hi")]})
    home = sim.home("U0ALICE")
    assert home is not None and home["blocks"] == [section("hi")]
    assert sim.home("U0BOB") is None


def test_rate_limit_answers_429_with_retry_after(slack: WebClient, sim: SlackSimulator) -> None:
    sim.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        slack.chat_postMessage(channel="C0GENERAL", text="hi")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert slack.chat_postMessage(channel="C0GENERAL", text="hi")["ok"]


def test_fail_answers_the_next_calls_with_an_error(slack: WebClient, sim: SlackSimulator) -> None:
    sim.fail("conversations.create", "restricted_action", times=2)
    for _ in range(2):
        assert error_from(slack.conversations_create, name="inc-9") == "restricted_action"
    assert slack.conversations_create(name="inc-9")["ok"]
    assert [c.ok for c in sim.calls_to("conversations.create")] == [False, False, True]


def test_latency_delays_calls_without_serialising_them(slack: WebClient, sim: SlackSimulator) -> None:
    sim.set_latency(0.3)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: slack.auth_test()["ok"], range(8)))
    elapsed = time.monotonic() - started
    assert all(replies) and 0.3 <= elapsed < 1.5


def test_response_url_posts_are_recorded(sim: SlackSimulator) -> None:
    reply = httpx.post(sim.response_url("cmd-1"), json={"text": "Declared", "response_type": "x"})
    assert reply.status_code == 200 and reply.text == "ok"
    [call] = sim.calls_to("response_url")
    assert call.args == {"text": "Declared", "response_type": "x", "_key": "cmd-1"}


def test_json_bodies_need_the_authorization_header(sim: SlackSimulator) -> None:
    url = sim.base_url + "chat.postMessage"
    body = {"channel": "C0GENERAL", "text": "hi"}
    good = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert good["ok"] and good["channel"] == "C0GENERAL"
    assert httpx.post(url, json=body | {"token": TOKEN}).json()["error"] == "not_authed"
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer xoxb-wrong"}).json()
    assert wrong["error"] == "invalid_auth"


def test_form_bodies_may_carry_the_token(sim: SlackSimulator) -> None:
    blocks = '[{"type": "divider"}]'
    form = {"token": TOKEN, "channel": "C0GENERAL", "text": "hi", "blocks": blocks}
    reply = httpx.post(sim.base_url + "chat.postMessage", data=form)
    assert reply.headers["content-type"] == "application/json" and reply.json()["ok"]
    assert sim.calls[-1].args["blocks"] == [{"type": "divider"}]


def test_unknown_methods_and_arguments_are_refused(slack: WebClient) -> None:
    assert error_from(slack.api_call, api_method="chat.postMesage") == "unknown_method"
    typo = error_from(slack.chat_postMessage, channel="C0GENERAL", text="hi", thread="1")
    assert typo == "invalid_arguments"


def test_calls_are_recorded_in_order_with_rejections(slack: WebClient, sim: SlackSimulator) -> None:
    slack.auth_test()
    error_from(slack.users_info, user="U0NOBODY")
    calls = sim.calls
    assert [(c.method, c.ok, c.error) for c in calls] == [
        ("auth.test", True, None),
        ("users.info", False, "user_not_found"),
    ]
    assert isinstance(calls[0], Call) and calls[0].at <= calls[1].at
    sim.clear_calls()
    assert sim.calls == []


def test_directory_lookups(slack: WebClient, sim: SlackSimulator) -> None:
    carol = slack.users_info(user="U0CAROL")["user"]
    assert (carol["tz"], carol["tz_offset"]) == ("Europe/Berlin", 3600)
    assert slack.users_lookupByEmail(email="bob@example.com")["user"]["id"] == "U0BOB"
    assert error_from(slack.users_lookupByEmail, email="x@example.com") == "users_not_found"
    sim.add_usergroup("S0APPROVERS", ["U0ALICE", "U0DAVE"])
    assert slack.usergroups_users_list(usergroup="S0APPROVERS")["users"] == ["U0ALICE", "U0DAVE"]
    assert error_from(slack.usergroups_users_list, usergroup="S0NONE") == "no_such_subteam"


def test_file_upload_is_shared_in_the_channel(slack: WebClient, sim: SlackSimulator) -> None:
    slack.files_upload_v2(channel="C0GENERAL", content="# Postmortem", filename="pm.md", title="PM")
    [stored] = sim.files.values()
    assert stored["content"] == b"# Postmortem" and stored["channel_id"] == "C0GENERAL"
    bogus = [{"id": "F0NOPE", "title": "x"}]
    assert error_from(slack.files_completeUploadExternal, files=bogus) == "file_not_found"


def test_async_client_works_too(sim: SlackSimulator) -> None:
    async def declare() -> str:
        # Bolt's per-request client carries team_id, which every method must accept.
        client = AsyncWebClient(token=TOKEN, base_url=sim.base_url, team_id="T0TEAM")
        channel = (await client.conversations_create(name="inc-async"))["channel"]["id"]
        await client.chat_postMessage(channel=channel, text="hi", blocks=[section("hi")])
        await client.views_open(trigger_id="9.9.9", view=MODAL)
        return str(channel)

    channel_id = asyncio.run(declare())
    assert sim.channel(channel_id)["messages"][0]["text"] == "hi"


def test_reset_forgets_channels_but_keeps_people(slack: WebClient, sim: SlackSimulator) -> None:
    sim.add_user("U0ERIN", "erin")
    slack.conversations_create(name="inc-5")
    sim.reset()
    assert sim.channel_by_name("inc-5") is None and sim.calls == []
    assert slack.users_info(user="U0ERIN")["user"]["name"] == "erin"
    assert "U0ERIN" in sim.channel("C0GENERAL")["members"]
