"""The web console over real HTTP, signed in through the simulator's Sign in with Slack: state
and nonce, own workspace only, no guests, the session cookie, logout with CSRF, private
incidents for members and admins only (pages and downloads), escaping, security headers, live
updates while a signed Slack command changes the incident, and the bot untouched by the
console's settings."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.simulator.harness import SAMPLE_PLAYBOOKS, LocalWarroom, local_settings
from bot.simulator.signin import sign_in_as
from tests.console import Browser, console_warroom, declare, declare_private


@pytest.fixture
def app(simulator, db):
    warroom = console_warroom(simulator, db)
    yield warroom
    warroom.stop()


@pytest.fixture
def alice(app):
    browser = Browser(app)
    assert browser.sign_in("U0ALICE").status_code == 303
    yield browser
    browser.close()


def test_without_sign_in_settings_the_console_says_how_to_enable_it(simulator, db):
    warroom = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        home = httpx.get(warroom.server.url + "/")
        assert home.status_code == 200 and "SLACK_CLIENT_ID" in home.text and "WARROOM_BASE_URL" in home.text
        assert httpx.get(warroom.server.url + "/incidents").status_code == 503
        assert warroom.command("declare sev3 Still works").status_code == 200
    finally:
        warroom.stop()


def test_sign_in_goes_through_slack_with_state_and_nonce_and_returns_to_the_page_asked_for(app):
    browser = Browser(app)
    asked = browser.get("/incidents", tab="closed")
    assert asked.status_code == 303 and asked.headers["location"] == "/?next=%2Fincidents%3Ftab%3Dclosed"
    start = browser.get("/signin", next="/incidents?tab=closed")
    authorize = urlsplit(start.headers["location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == (
        app.sim.base_url.removesuffix("api/") + "openid/connect/authorize"
    )
    assert query["response_type"] == "code" and query["scope"] == "openid profile email"
    assert query["client_id"] == app.sim.client_id and query["team"] == app.deps.slack.state.identity.team_id
    assert query["redirect_uri"] == browser.base + "/auth/callback"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    back = sign_in_as(start.headers["location"], "U0ALICE")
    done = browser.http.get(back.removeprefix(browser.base))
    assert done.status_code == 303 and done.headers["location"] == "/incidents?tab=closed"
    cookie = done.headers["set-cookie"]
    assert (
        "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    )
    [exchange] = app.sim.calls_to("openid.connect.token")
    assert (
        exchange.ok
        and exchange.encoding == "form"
        and exchange.args["code"] == parse_qs(urlsplit(back).query)["code"][0]
    )
    page = browser.get("/incidents", tab="closed")
    assert page.status_code == 200 and "alice" in page.text and "Sign out" in page.text
    # the same answer from Slack a second time is refused: the state was used up
    again = browser.http.get(back.removeprefix(browser.base))
    assert again.status_code == 403 and "expired" in again.text


def test_a_forged_state_an_outsider_and_a_guest_are_refused(app):
    browser = Browser(app)
    start = browser.get("/signin")
    back = sign_in_as(start.headers["location"], "U0ALICE")
    forged = back.replace("state=", "state=x")
    refused = browser.http.get(forged.removeprefix(browser.base))
    assert refused.status_code == 403 and "did not start here" in refused.text
    assert app.sim.calls_to("openid.connect.token") == []  # nothing exchanged on a bad state

    outsider = Browser(app).sign_in("U0OUTSIDER", any_team=True)
    assert outsider.status_code == 403 and "own Slack workspace" in outsider.text
    guest = Browser(app).sign_in("U0GUEST")
    assert guest.status_code == 403 and "Guest accounts" in guest.text
    assert Browser(app).get("/incidents").status_code == 303


def test_sign_out_needs_the_forms_token_and_ends_the_session(app, alice):
    assert alice.http.post("/signout", data={"csrf": "nope"}).status_code == 403
    assert alice.get("/incidents").status_code == 200
    out = alice.http.post("/signout", data={"csrf": alice.csrf()})
    assert out.status_code == 303 and out.headers["location"] == "/?notice=signed-out"
    assert alice.get("/incidents").status_code == 303
    assert "You are signed out" in alice.get("/", notice="signed-out").text


def test_a_session_ends_after_its_lifetime_whatever_the_cookie_says(app, alice, monkeypatch):
    assert alice.get("/incidents").status_code == 200
    later = time.time() + 13 * 3600
    monkeypatch.setattr("bot.http.console.auth.time.time", lambda: later)
    assert alice.get("/incidents").status_code == 303


def test_a_private_incident_is_for_its_members_and_admins_only(app, alice):
    public = declare(app)
    secret = declare_private(app, "Acquisition leak")
    bob, dave = Browser(app), Browser(app)
    bob.sign_in("U0BOB")
    dave.sign_in("U0DAVE")  # an admin
    for reader, sees in ((alice, True), (dave, True), (bob, False)):
        listing = reader.get("/incidents").text
        assert public.title in listing
        assert ("Acquisition leak" in listing) is sees
        page = reader.get(f"/incidents/{secret.ref}")
        assert page.status_code == (200 if sees else 404)
        assert ("Acquisition leak" in page.text) is sees
        for fmt in ("md", "json"):
            download = reader.get(f"/incidents/{secret.ref}/postmortem.{fmt}")
            assert download.status_code == (200 if sees else 404)
            assert ("Acquisition leak" in download.text) is sees
        assert reader.get(f"/incidents/{secret.ref}/live").status_code == (200 if sees else 404)
    # carol, invited into the war room in Slack, is a member from then on
    app.sim.join(secret.channel_id, "U0CAROL")
    carol = Browser(app)
    carol.sign_in("U0CAROL")
    assert carol.get(f"/incidents/{secret.ref}").status_code == 200
    asked = [call.args for call in app.sim.calls_to("users.conversations")]
    assert {"user": "U0CAROL", "types": "private_channel"}.items() <= asked[-1].items()


def test_the_incident_page_shows_its_record_escaped_with_downloads(app, alice):
    incident = declare(app, "declare sev2 <script>alert(1)</script> & checkout")
    app.command("note rolled back deploy 4512", channel=incident.channel_id)
    app.command("sev 1", channel=incident.channel_id)
    app.settle()
    page = alice.get(f"/incidents/{incident.ref}")
    assert page.status_code == 200
    assert (
        "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    assert "rolled back deploy 4512" in page.text and "SEV2 → SEV1" in page.text
    assert 'href="/incidents/INC-1/postmortem.md"' in page.text
    headers = page.headers
    assert (
        "script-src 'self'" in headers["content-security-policy"]
        and "unsafe-inline" not in headers["content-security-policy"]
    )
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    draft = alice.get(f"/incidents/{incident.ref}/postmortem.json")
    assert draft.headers["content-disposition"] == 'attachment; filename="INC-1-postmortem.json"'
    assert json.loads(draft.text)["title"].startswith("<script>")
    notes = alice.get(f"/incidents/{incident.ref}", kind="note").text
    timeline = notes.split('id="timeline"')[1].split('id="runbooks"')[0]
    assert "rolled back deploy 4512" in timeline and "SEV2 → SEV1" not in timeline


def test_the_live_stream_says_change_when_a_slack_command_changes_the_incident(app, alice):
    incident = declare(app)
    page = alice.get(f"/incidents/{incident.ref}").text
    live = page.split('data-live="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    with alice.http.stream("GET", live, timeout=15) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        app.command("sev 1", channel=incident.channel_id)
        seen = []
        for line in lines:
            seen.append(line)
            if line.startswith("data:"):
                break
    assert "event: change" in seen
    assert "SEV1" in alice.get(f"/incidents/{incident.ref}").text


def test_the_bot_keeps_its_bot_token_when_sign_in_is_configured(simulator, db, monkeypatch):
    monkeypatch.setenv("SLACK_CLIENT_ID", simulator.client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", simulator.client_secret)
    warroom = console_warroom(simulator, db)
    try:
        incident = declare(warroom)
        assert incident is not None and incident.channel_id
        assert warroom.sim.calls_to("conversations.create")[0].ok
    finally:
        warroom.stop()


def test_the_reports_page_draws_each_chart_with_its_numbers_beside_it(app, alice):
    incident = declare(app)
    app.command("resolve Rolled back", channel=incident.channel_id)
    app.settle()
    page = alice.get("/reports", weeks=4)
    assert page.status_code == 200
    html = page.text
    assert html.count('role="img"') >= 6 and 'aria-label="Incidents per week by worst severity"' in html
    assert "<style" not in html and 'style="' not in html  # the CSP allows no inline style
    severity = html.split('<table aria-label="Incidents per week by worst severity">')[1].split("</table>")[0]
    assert "<th>SEV2</th>" in severity and severity.count("<tr>") == 5  # a header and 4 weeks
    assert "<td>1</td>" in severity  # this week's SEV2
    assert "Time to resolve</dt><dd>median" in html


def test_the_runbooks_page_shows_matches_actions_use_and_files_that_do_not_load(simulator, db, tmp_path):
    for sample in SAMPLE_PLAYBOOKS.glob("*.md"):
        (tmp_path / sample.name).write_text(sample.read_text())
    (tmp_path / "broken.md").write_text("---\nid: broken\ntitle: Broken\nactions: [{id: x}]\n---\nSteps\n")
    warroom = console_warroom(simulator, db, warroom_playbooks_dir=tmp_path)
    browser = Browser(warroom)
    try:
        browser.sign_in("U0ALICE")
        declare(warroom)  # posts the checkout runbook in the war room
        page = browser.get("/runbooks").text
        assert (
            "Checkout returns 5xx after a deploy" in page
            and "Roll back checkout to the previous release" in page
        )
        assert "checkout, checkout-api" in page and "HighErrorRate*" in page
        section = page.split('id="runbook-checkout-5xx-after-deploy"')[1].split("</section>")[0]
        assert "Last used</dt><dd><time" in section
        assert "broken.md" in page and "Files that do not load" in page
        assert "automation.internal/deploys/rollback" not in page  # where an action calls stays private
    finally:
        browser.close()
        warroom.stop()
