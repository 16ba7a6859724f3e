"""The console in the OS's headless Chromium, driven by Playwright's sync API from the test thread
while Warroom serves from threads of this process (Sign in with Slack against the simulator).

Playwright's own browser download is not used: the tests launch Debian's `chromium`, and are
skipped when it is not installed. Every test here carries the `browser` marker, so
`-m "not browser"` leaves them out. Screenshots go to artifacts/screenshots/ (CI keeps them)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page
from pytest_playwright.pytest_playwright import CreateContextCallback

from bot.simulator import SlackSimulator
from bot.simulator.harness import LocalWarroom
from tests.console import console_warroom

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parents[1] / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
NO_CHROMIUM = "no chromium on PATH: install Debian's chromium package (apt-get install -y chromium)"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory `browser`, and skip them all without Chromium."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)
            if CHROMIUM is None:
                item.add_marker(pytest.mark.skip(reason=NO_CHROMIUM))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options (--headed, --slowmo still apply) on the OS's Chromium;
    its sandbox needs user namespaces that containers often lack."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox"],
    }


@pytest.fixture
def app(simulator: SlackSimulator, db: str) -> Iterator[LocalWarroom]:
    """Warroom with its console and Sign in with Slack, on a fresh port."""
    warroom = console_warroom(simulator, db)
    yield warroom
    warroom.stop()


@pytest.fixture
def visitor(app: LocalWarroom, new_context: CreateContextCallback) -> Iterator[Callable[[], BrowserContext]]:
    """Opens a browser context of its own (own cookies) on the console, paths relative to it;
    requested after `app`, so every context closes, and its live streams end, before Warroom
    stops. A script error or a Content-Security-Policy refusal on any page fails the test."""
    problems: list[str] = []

    def fresh() -> BrowserContext:
        opened = new_context(base_url=app.server.url)
        opened.set_default_timeout(10_000)
        opened.on("weberror", lambda error: problems.append(f"script error: {error.error}"))
        opened.on("console", lambda message: problems.extend(refusals(message)))
        return opened

    yield fresh
    assert problems == [], "the console's pages went wrong in the browser:\n" + "\n".join(problems)


def refusals(message: ConsoleMessage) -> list[str]:
    """A console message saying the page's Content-Security-Policy blocked something."""
    if message.type == "error" and "Content Security Policy" in message.text:
        return [f"{message.page.url if message.page else 'a page'}: {message.text}"]
    return []


@pytest.fixture
def context(visitor: Callable[[], BrowserContext]) -> BrowserContext:
    """pytest-playwright's `context` (and so its `page`), on the console."""
    return visitor()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """Saves the whole page as artifacts/screenshots/<name>."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / name
        page.screenshot(path=path, full_page=True)
        return path

    return take
