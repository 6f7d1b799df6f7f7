"""Campaigns on the real outbox: Ava (an admin) with her sandbox Gmail connected, the
workspace's postal address saved, a template and a segment of the sandbox's leads; and,
for the audience's requests, the app served over HTTP (it must be reachable at the
absolute URLs the mail carries)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from inboxcrm import create_app
from inboxcrm.config import Settings
from inboxcrm.db import Database
from tests.support.campaigns import Campaigns, campaigns_for
from tests.support.outbox import signed_in_outbox
from tests.support.sandbox import Control


@pytest.fixture
def campaigns(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings, control: Control
) -> Campaigns:
    return campaigns_for(signed_in_outbox(client, session, db, google_settings, control))


@pytest.fixture
def served(google_settings: Settings) -> Iterator[tuple[str, Settings]]:
    """The app on a loopback port, trusting the sandbox's X-Forwarded-For (docs/sandbox.md);
    returns its URL and the settings the clock must use (the same base URL)."""
    server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = google_settings.with_overrides(base_url=url, trusted_proxies=1)
    app = create_app(settings)
    server.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url, settings
    server.shutdown()
    app.extensions["inboxcrm.db"].dispose()
