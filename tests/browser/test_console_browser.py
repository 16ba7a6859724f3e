"""The console as a person sees it in Chromium: signing in through Slack's page, the incident list,
an incident page that follows Slack commands without a reload, a private incident that does not
exist for a non-member (page and download), signing out, and the reports with their charts."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console import declare, declare_private

LIVE = 10_000  # ms: a job, the stream's one-second poll and the page's refetch, with room to spare
ALICE, BOB = "Alice (@alice)", "Bob (@bob)"


def sign_in(page: Page, person: str) -> None:
    """From the console's front page through Slack's sign-in page, choosing `person`'s button;
    back on the incident list, signed in."""
    page.goto("/")
    page.get_by_role("link", name="Sign in with Slack").click()
    expect(page.get_by_role("heading", name="Sign in to")).to_be_visible()
    page.get_by_role("button", name=person, exact=True).click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_signing_in_through_slacks_page_lands_on_the_incident_list(app, page, screenshot):
    declare(app)
    declare(app, "declare sev3 Search results are stale")
    page.goto("/")
    expect(page.get_by_role("heading", name="Warroom console")).to_be_visible()
    screenshot(page, "signin.png")
    page.get_by_role("link", name="Sign in with Slack").click()
    expect(page).to_have_url(re.compile(r"^" + re.escape(app.sim.base_url.removesuffix("api/"))))
    expect(page.get_by_role("heading", name="Sign in to")).to_be_visible()
    expect(page.get_by_role("button", name=BOB, exact=True)).to_be_visible()
    screenshot(page, "slack-signin-page.png")
    page.get_by_role("button", name=ALICE, exact=True).click()

    expect(page).to_have_url(f"{app.server.url}/incidents")
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()
    expect(page.locator("header.top .who")).to_have_text("alice")
    rows = page.locator("table.incidents tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("INC-2")  # newest first
    expect(rows.nth(0)).to_contain_text("Search results are stale")
    expect(rows.nth(0)).to_contain_text("SEV3")
    expect(rows.nth(1)).to_contain_text("INC-1")
    expect(rows.nth(1)).to_contain_text("Checkout returns 500s")
    expect(rows.nth(1)).to_contain_text("SEV2")
    expect(rows.nth(1)).to_contain_text("@alice")  # the commander
    screenshot(page, "incident-list.png")


def test_an_incident_page_follows_slack_commands_without_reloading(app, page, screenshot):
    incident = declare(app)
    sign_in(page, ALICE)
    page.goto(f"/incidents/{incident.ref}")
    severity = page.locator("[data-field=severity]")
    expect(severity).to_have_text("SEV2")
    expect(page.locator("#history")).to_contain_text("Unchanged since it was declared.")
    expect(page.get_by_role("status")).to_have_text("live")
    screenshot(page, "incident-live-sev2.png")
    page.evaluate("window.stillTheSamePage = true")  # gone if the browser loads the page again

    app.command("sev 1", channel=incident.channel_id)
    expect(severity).to_have_text("SEV1", timeout=LIVE)
    expect(severity).to_have_class(re.compile(r"\bsev1\b"))
    expect(page.locator("#history")).to_contain_text("SEV2 → SEV1")
    screenshot(page, "incident-live-sev1.png")

    app.command("note rolled back deploy 4512", channel=incident.channel_id)
    note = page.locator("#timeline tr[data-kind=note]")
    expect(note).to_contain_text("rolled back deploy 4512", timeout=LIVE)
    expect(note).to_contain_text("@alice")
    screenshot(page, "incident-live-note.png")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_private_incident_does_not_exist_for_a_non_member(app, page, visitor, screenshot):
    public = declare(app)
    secret = declare_private(app, "Acquisition leak")
    bob = visitor().new_page()
    sign_in(bob, BOB)
    listing = bob.locator("table.incidents")
    expect(listing).to_contain_text(public.title)
    expect(listing).not_to_contain_text(secret.title)
    expect(listing.locator("tbody tr")).to_have_count(1)
    screenshot(bob, "incident-list-bob.png")

    shown = bob.goto(f"/incidents/{secret.ref}")
    assert shown is not None and shown.status == 404
    expect(bob.get_by_role("heading", name="Not found")).to_be_visible()
    expect(bob.get_by_text(f"There is no incident {secret.ref} you can see.")).to_be_visible()
    expect(bob.locator("main")).not_to_contain_text(secret.title)
    screenshot(bob, "private-incident-not-found-bob.png")
    # with bob's cookies: his public download works, so the 404 is the private one's, not sign-in's
    assert bob.request.get(f"/incidents/{public.ref}/postmortem.md").status == 200
    for fmt in ("md", "json"):
        download = bob.request.get(f"/incidents/{secret.ref}/postmortem.{fmt}")
        assert download.status == 404 and secret.title not in download.text()

    sign_in(page, ALICE)
    row = page.locator("table.incidents tbody tr", has_text=secret.title)
    expect(row.locator(".badge.private")).to_have_text("private")
    row.get_by_role("link", name=secret.ref).click()
    expect(page.locator("header.incident h1")).to_have_text(f"{secret.ref} {secret.title}")
    expect(page.locator("[data-field=severity]")).to_have_text("SEV1")
    screenshot(page, "private-incident-alice.png")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Markdown").click()
    draft = downloading.value
    assert draft.suggested_filename == f"{secret.ref}-postmortem.md"
    assert secret.title in draft.path().read_text(encoding="utf-8")
    assert page.request.get(f"/incidents/{secret.ref}/postmortem.json").status == 200


def test_signing_out_ends_the_session(app, page, screenshot):
    sign_in(page, ALICE)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    screenshot(page, "signed-out.png")

    page.goto("/incidents")
    expect(page).to_have_url(f"{app.server.url}/?next=%2Fincidents")
    expect(page.get_by_role("heading", name="Warroom console")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in with Slack")).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(0)


def test_the_reports_page_draws_charts_with_their_numbers_beside_them(app, page, screenshot):
    resolved = declare(app)
    declare(app, "declare sev1 Payments time out")
    app.command("resolve rolled back to v41", channel=resolved.channel_id)
    app.settle()
    sign_in(page, ALICE)
    page.get_by_role("navigation").get_by_role("link", name="Reports").click()
    expect(page).to_have_url(f"{app.server.url}/reports")
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    charts = page.locator(".chart")
    expect(charts.first).to_be_visible()
    for chart in charts.all():
        picture = chart.locator("svg[role=img]")
        expect(picture).to_have_count(1)
        expect(picture).to_have_attribute("aria-label", re.compile(r"\w"))
        numbers = chart.locator("table")
        expect(numbers).to_be_visible()
        expect(numbers.locator("td")).not_to_have_count(0)
        expect(numbers.locator("td", has_text=re.compile(r"\d")).first).to_be_visible()
    by_severity = page.get_by_role("table", name="Incidents per week by worst severity")
    this_week = by_severity.locator("tbody tr").last  # SEV1 1, SEV2 1, SEV3 0, SEV4 0
    expect(this_week.locator("td")).to_have_text([re.compile(r"^\d{4}-\d\d-\d\d$"), "1", "1", "0", "0"])
    screenshot(page, "reports.png")
