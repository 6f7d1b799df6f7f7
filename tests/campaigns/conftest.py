"""For the audience's requests, the app served over HTTP (it must be reachable at the
absolute URLs the mail carries); the `campaigns` fixture itself is in tests/conftest.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from inboxcrm import create_app
from inboxcrm.config import Settings


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
