"""No secret in any log, at any level: levels per logger, and the redacting filter on the
handlers, tried with a real Google sign-in, a sync and API calls at DEBUG."""

from __future__ import annotations

import base64
import io
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from inboxcrm import create_app, logs
from inboxcrm.accounts.models import Mailbox, Member
from inboxcrm.accounts.service import create_api_token, signin_token
from inboxcrm.config import ConfigError, Settings, load_settings
from inboxcrm.db import utcnow
from inboxcrm.mail.jobs import sync_due
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from inboxcrm.setup import SYNC_STEPS
from tests.support.web import csrf_token

AVA = "ava.reed@northwind.io"
CHATTY = ("requests_oauthlib", "oauthlib", "urllib3", "google", "googleapiclient", "werkzeug")
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")


class Capture(logging.Handler):
    """Everything that reaches the root logger, formatted as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(logs.FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def capture() -> Iterator[Capture]:
    root = logging.getLogger()
    handler = Capture()
    root.addHandler(handler)  # before create_app, like a server's own handler
    yield handler
    root.removeHandler(handler)
    logs.configure(Settings())  # back to the defaults for the tests that follow


def test_debug_logs_hold_no_secret(
    capture: Capture, google_settings: Settings, session: Session, sandbox: RunningSandbox
) -> None:
    control = f"{sandbox.url}/_sandbox"
    # Access tokens that are always due for refreshing: the sync refreshes too.
    requests.post(f"{control}/options", json={"token_lifetime": 200}, timeout=10)
    for n in range(2):
        eml = f"From: zed@newco.example\r\nTo: {AVA}\r\nSubject: Hi {n}\r\n\r\nHello\r\n"
        requests.post(f"{control}/deliver", json={"to": AVA, "eml": eml}, timeout=10)

    server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    settings = google_settings.with_overrides(
        base_url=base, log_level="DEBUG", debug_loggers=CHATTY
    )
    app = server.app = create_app(settings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secrets: dict[str, str] = {
        "client secret": DEFAULT_CLIENT_SECRET,
        "basic auth": base64.b64encode(
            f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()
        ).decode(),
    }
    cookies = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    try:
        # Sign in with Google, as a browser would, through the live server's access log.
        browser = requests.Session()
        start = browser.get(f"{base}/auth/google?login_hint={AVA}", allow_redirects=False)
        assert start.status_code == 302
        pending = cookies.loads(browser.cookies["inboxcrm_session"])["google"]
        secrets["PKCE verifier"] = pending["verifier"]
        secrets["OAuth state"] = pending["state"]
        consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
        back = urlsplit(consent.headers["Location"])
        answer = browser.get(f"{base}{back.path}?{back.query}", allow_redirects=False)
        assert (answer.status_code, answer.headers["Location"]) == (302, "/leads")
        secrets["session token"] = cookies.loads(browser.cookies["inboxcrm_session"])["sid"]
        secrets["session cookie"] = browser.cookies["inboxcrm_session"]
        assert browser.get(f"{base}/leads").status_code == 200

        # A one-time sign-in link, the CLI's way in.
        member = session.scalars(select(Member).where(Member.email == AVA)).one()
        link = signin_token(member, app.secret_key)  # type: ignore[arg-type]
        session.commit()
        secrets["sign-in link"] = link
        other = requests.Session()
        page = other.get(f"{base}/signin/{link}")
        signed = other.post(
            f"{base}/signin/{link}",
            data={"csrf_token": csrf_token(page.text)},
            allow_redirects=False,
        )
        assert signed.status_code == 302

        # A sync pass, refreshing the access token on the way.
        runtime = Runtime(app.extensions["inboxcrm.db"], settings, workers=1)
        try:
            futures = sync_due(runtime, utcnow(), SYNC_STEPS)
            assert futures
            for future in futures:
                future.result(timeout=60)
        finally:
            runtime.stop()
        session.expire_all()
        assert session.scalars(select(Mailbox)).one().synced_messages == 2

        # API calls: a good token and a wrong one.
        _row, api_token = create_api_token(session, member, "logs")
        session.commit()
        secrets["API token"] = api_token
        ok = requests.get(
            f"{base}/api/v1/leads", headers={"Authorization": f"Bearer {api_token}"}, timeout=10
        )
        assert ok.status_code == 200
        wrong = requests.get(
            f"{base}/api/v1/leads",
            headers={"Authorization": f"Bearer {api_token[:-3]}abc"},
            timeout=10,
        )
        assert wrong.status_code == 401
    finally:
        server.shutdown()

    state = sandbox.state
    with state.lock:
        for n, code in enumerate(state.codes):
            secrets[f"authorization code {n}"] = code
        for n, token in enumerate(state.access_tokens):
            secrets[f"access token {n}"] = token
        for n, token in enumerate(state.refresh_tokens):
            secrets[f"refresh token {n}"] = token
    assert sum(1 for name in secrets if name.startswith("access token")) >= 2  # refreshed

    text = capture.text
    # The loggers that used to leak really spoke, and were redacted.
    assert "requests_oauthlib" in text
    assert "Obtained token" in text
    assert "/auth/google/callback?" in text  # werkzeug's access log
    assert "/signin/[redacted]" in text
    assert "[redacted]" in text
    leaked = [name for name, value in secrets.items() if value and value in text]
    assert leaked == [], f"in the log: {leaked}"
    assert not JWT.search(text), "an id token (a JWT) is in the log"


def test_libraries_stay_at_warning_unless_named(settings: Settings) -> None:
    create_app(settings.with_overrides(log_level="DEBUG"))
    assert logging.getLogger("inboxcrm.mail.sync").getEffectiveLevel() == logging.DEBUG
    for name in ("requests_oauthlib", "oauthlib", "urllib3", "google.auth", "apscheduler"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert logging.getLogger("werkzeug").getEffectiveLevel() == logging.INFO  # access log
    create_app(settings.with_overrides(log_level="INFO", debug_loggers=("requests_oauthlib",)))
    assert logging.getLogger("requests_oauthlib").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("oauthlib").getEffectiveLevel() == logging.WARNING
    create_app(settings)  # no longer asked for: back to WARNING
    assert logging.getLogger("requests_oauthlib").getEffectiveLevel() == logging.WARNING
    assert all(
        any(isinstance(f, logs.RedactingFilter) for f in h.filters)
        for h in logging.getLogger().handlers
    )


def test_debug_loggers_are_a_setting() -> None:
    found = load_settings({"INBOXCRM_DEBUG_LOGGERS": "requests_oauthlib, urllib3 flask-limiter"})
    assert found.debug_loggers == ("requests_oauthlib", "urllib3", "flask-limiter")
    assert load_settings({}).debug_loggers == ()
    with pytest.raises(ConfigError, match="INBOXCRM_DEBUG_LOGGERS"):
        load_settings({"INBOXCRM_DEBUG_LOGGERS": "urllib3;rm -rf"})


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        (
            '"POST /signin/eyJtIjoxfQ.Z0x.abc HTTP/1.1" 302 -',
            '"POST /signin/[redacted] HTTP/1.1"',
            ["eyJtIjoxfQ", "Z0x.abc"],
        ),
        (
            "GET /auth/google/callback?state=S7a7e&code=4/0Ab-xyz&scope=email",
            "scope=email",
            ["S7a7e", "4/0Ab-xyz"],
        ),
        (
            "Prepared fetch token request body grant_type=authorization_code&code=4%2F0Ab"
            "&redirect_uri=http%3A%2F%2Fx%2Fcb&code_verifier=Ver1f13r&client_secret=shh",
            "grant_type=authorization_code",
            ["4%2F0Ab", "Ver1f13r", "shh"],
        ),
        (
            "Request headers were {'Accept': 'application/json', "
            "'Authorization': 'Basic Y2xpZW50OnNlY3JldA==', 'Content-Length': '10'}",
            "'Content-Length': '10'",
            ["Y2xpZW50OnNlY3JldA"],
        ),
        (
            "Obtained token {'access_token': 'ya29.a0Zz', 'expires_in': 3599, "
            "'refresh_token': '1//0gAbc', 'id_token': 'eyJh.eyJz.c2ln'}.",
            "'expires_in': 3599",
            ["ya29.a0Zz", "1//0gAbc", "eyJh.eyJz.c2ln"],
        ),
        (
            'Response headers were {} and content {"access_token": "ya29.Q", "id_token": '
            '"eyJhbGciOi.eyJpc3Mi.sig", "refresh_token": "1//0x"}.',
            "Response headers were",
            ["ya29.Q", "eyJhbGciOi", "1//0x"],
        ),
        ("Authorization: Bearer icrm_s3cr3t", "Authorization: ", ["icrm_s3cr3t"]),
        ("retrying with bearer Abc123 and ya29.zzz", "retrying with bearer", ["Abc123", "ya29"]),
        (
            "Set-Cookie: inboxcrm_session=eyJzaWQiOiJ4In0.Zz.sig; HttpOnly",
            "Set-Cookie: ",
            ["eyJzaWQiOiJ4In0"],
        ),
        ("sealed grant gAAAAABnZ2Zm_x-y== stored", "sealed grant", ["gAAAAABnZ2Zm"]),
        (
            "Generated new state 40YapqJwX4mBlIuSe4rpdoRrS5eIrj.",
            "Generated new state",
            ["40YapqJwX4mB"],
        ),
    ],
)
def test_redact_keeps_the_line_and_drops_the_secret(line: str, kept: str, gone: list[str]) -> None:
    clean = logs.redact(line)
    assert kept in clean
    assert "[redacted]" in clean
    for secret in gone:
        assert secret not in clean, (secret, clean)


def test_exception_text_is_redacted_too(capture: Capture, settings: Settings) -> None:
    create_app(settings)
    try:
        raise ValueError("token endpoint said no to code=4/0Secret")
    except ValueError:
        logging.getLogger("inboxcrm.test").exception("sign-in failed for /signin/abc.def")
    assert "4/0Secret" not in capture.text
    assert "abc.def" not in capture.text
    assert "ValueError" in capture.text


def test_the_demo_console_shows_a_person_news_and_problems(
    settings: Settings, tmp_path: Path
) -> None:
    logs.configure(settings)
    console = io.StringIO()
    path = tmp_path / "demo.log"
    added = logs.quiet_console(console, path)
    try:
        logging.getLogger("werkzeug").info('"GET /signin/abcdefghijklmnopqrstuvwx HTTP/1.1" 200')
        logging.getLogger("inboxcrm.mail.sync").info("mailbox 1: history expired, full resync")
        logs.news.info("ava@acme.com: first sync finished, 12 new messages")
        logging.getLogger("inboxcrm.runtime").error("job relabel_threads failed")
    finally:
        for handler in added:
            logging.getLogger().removeHandler(handler)
            handler.close()
        logs.configure(Settings())
    shown = console.getvalue().splitlines()
    assert len(shown) == 2
    assert shown[0].endswith(" ava@acme.com: first sync finished, 12 new messages")
    assert shown[1].endswith(" ERROR (inboxcrm.runtime) job relabel_threads failed")
    kept = path.read_text()
    assert "GET /signin/[redacted]" in kept
    assert "abcdefghijklmnop" not in kept
    assert "history expired" in kept
    assert "first sync finished" in kept
    assert path.stat().st_mode & 0o077 == 0
