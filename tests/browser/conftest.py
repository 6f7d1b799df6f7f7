"""A live server and headless Chromium (Debian's, driven by Playwright: no browser download)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from inboxcrm import create_app
from inboxcrm.accounts.models import Member
from inboxcrm.accounts.service import signin_token
from inboxcrm.config import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium reaches for Google's services, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live_server_for() -> Iterator[Callable[[Settings], str]]:
    """Serve an app built from these settings on a free loopback port; returns its URL.
    The port is bound first so the app's base URL (OAuth redirects) is its real address."""
    servers = []

    def serve(settings: Settings) -> str:
        server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        server.app = create_app(settings.with_overrides(base_url=url))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return url

    yield serve
    for server in servers:
        server.shutdown()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def sign_in_as(
    app: Flask, page: Page, live_server: str, session: Session
) -> Callable[[Member], None]:
    """Sign the page in to the live server as a member, through the one-time link."""

    def sign_in(member: Member) -> None:
        token = signin_token(member, str(app.secret_key))
        session.commit()
        page.goto(f"{live_server}/signin/{token}")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server}/leads")

    return sign_in
