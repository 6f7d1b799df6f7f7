"""App-per-test fixtures on a real database: SQLite by default, PostgreSQL when
INBOXCRM_TEST_DATABASE_URL names a server (scripts/with-postgres sets it)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.accounts.models import Member
from inboxcrm.config import Settings
from inboxcrm.db import Base, Database
from inboxcrm.demo import with_sandbox_google
from inboxcrm.migrate import upgrade
from inboxcrm.sandbox import RunningSandbox, start_sandbox
from tests import factories

POSTGRES_URL = os.environ.get("INBOXCRM_TEST_DATABASE_URL", "")
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
def google_settings(settings: Settings, sandbox: RunningSandbox) -> Settings:
    requests.post(f"{sandbox.url}/_sandbox/reset", json={"seed": "empty"}, timeout=10)
    return with_sandbox_google(settings, sandbox)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
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


def sign_in(client: FlaskClient, member: Member) -> FlaskClient:
    """Sign in through the real one-time link and its CSRF-protected form."""
    from inboxcrm.accounts.service import signin_token

    with client.application.app_context():
        database: Database = client.application.extensions["inboxcrm.db"]
        with database.session() as s:
            token = signin_token(s.get(Member, member.id), client.application.secret_key)  # type: ignore[arg-type]
    page = client.get(f"/signin/{token}")
    assert page.status_code == 200, page.text
    response = client.post(f"/signin/{token}", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302, response.text
    return client


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)
