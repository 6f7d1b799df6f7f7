"""App-per-test fixtures on a real database: SQLite by default, PostgreSQL when
INBOXCRM_TEST_DATABASE_URL names a server (scripts/with-postgres sets it); and the sandbox
Google, one per run, reset for each test that asks for it.

A module whose app signs in with and syncs from the sandbox Google says so once:
`pytestmark = pytest.mark.google`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.config import Settings
from inboxcrm.db import Base, Database
from inboxcrm.demo import with_sandbox_google
from inboxcrm.gmail import build_gmail
from inboxcrm.migrate import upgrade
from inboxcrm.sandbox import RunningSandbox, start_sandbox
from tests import factories
from tests.support.campaigns import Campaigns, campaigns_for
from tests.support.database import POSTGRES_URL
from tests.support.outbox import Outbox, signed_in_outbox
from tests.support.sandbox import AVA, IDENTITY, MODIFY, Control, authorize

# oauthlib refuses plain http; the sandbox is loopback only, so allow it for these tests.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

DB_FIXTURES = {"database_url", "app", "db", "session", "client"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that touches the database runs again on PostgreSQL (`-m db`).
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per run: a template SQLite file, or a fresh PostgreSQL database."""
    if not POSTGRES_URL:
        template = tmp_path_factory.mktemp("db") / "template.sqlite3"
        upgrade(f"sqlite:///{template}")
        yield str(template)
        return
    name = f"inboxcrm_test_{os.getpid()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(migrated_database: str, tmp_path: Path) -> Iterator[str]:
    """A clean, migrated database for one test."""
    if not POSTGRES_URL:
        copy = tmp_path / "test.sqlite3"
        shutil.copyfile(migrated_database, copy)
        yield f"sqlite:///{copy}"
        return
    yield migrated_database
    engine = create_engine(migrated_database)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    """The local Google, one per test run; tests reset it through its control API."""
    running = start_sandbox(host="127.0.0.1", port=0)
    yield running
    running.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        instance_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        token_key=Fernet.generate_key().decode(),
        base_url="http://127.0.0.1:5000",
    )


@pytest.fixture
def google_settings(settings: Settings, sandbox: RunningSandbox, control: Control) -> Settings:
    """The settings with the sandbox (reset) as Google."""
    return with_sandbox_google(settings, sandbox)


@pytest.fixture
def app(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Flask]:
    """The app on this test's database; with the sandbox Google for a test marked `google`."""
    if request.node.get_closest_marker("google"):
        settings = request.getfixturevalue("google_settings")
    app = create_app(settings)
    yield app
    app.extensions["inboxcrm.db"].dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["inboxcrm.db"]
    return database


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.sessions() as s:
        factories.bind(s)
        yield s
        factories.bind(None)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def control(sandbox: RunningSandbox) -> Control:
    """The sandbox's control API, the sandbox reset to no mail first."""
    ctl = Control(sandbox.url)
    ctl("reset", {"seed": "empty"})
    return ctl


@pytest.fixture
def credentials(sandbox: RunningSandbox, control: Control) -> Callable[..., Any]:
    """Real OAuth credentials of a sandbox account (the sandbox reset), through the real Flow."""

    def make(email: str = AVA, scopes: tuple[str, ...] = (*IDENTITY, MODIFY)) -> Any:
        flow, location = authorize(sandbox.url, email, scopes)
        flow.fetch_token(authorization_response=location)
        return flow.credentials

    return make


@pytest.fixture
def gmail(sandbox: RunningSandbox, credentials: Callable[..., Any]) -> Callable[..., Any]:
    """A real googleapiclient Gmail service for a sandbox account."""

    def make(email: str = AVA, scopes: tuple[str, ...] = (*IDENTITY, MODIFY)) -> Any:
        return build_gmail(credentials(email, scopes), sandbox.url)

    return make


@pytest.fixture
def outbox(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings, control: Control
) -> Outbox:
    """Ava's Gmail connected, the sandbox reset, nothing planned."""
    return signed_in_outbox(client, session, db, google_settings, control)


@pytest.fixture
def campaigns(outbox: Outbox) -> Campaigns:
    """The outbox's Ava with the workspace's postal address saved, a template and a
    segment of the sandbox's leads."""
    return campaigns_for(outbox)
