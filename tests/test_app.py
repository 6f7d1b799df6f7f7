from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask.testing import FlaskClient
from sqlalchemy import create_engine

from inboxcrm.db import Base
from inboxcrm.migrate import include_object
from tests.factories import MemberFactory
from tests.support.web import sign_in


def test_healthz_reports_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["database"] == "ok"


def test_healthz_says_when_the_database_is_unreachable(client: FlaskClient, tmp_path) -> None:
    from inboxcrm.db import Database

    client.application.extensions["inboxcrm.db"] = Database(
        f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_session_cookie_is_signed_httponly_and_lax(client: FlaskClient, session) -> None:
    sign_in(client, MemberFactory())
    cookie = client.get_cookie("inboxcrm_session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert "." in cookie.value  # itsdangerous signature


def test_pages_carry_a_strict_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/signin")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_importing_the_package_reads_no_settings() -> None:
    # Settings are read by create_app, not at import: a bad variable must not break an import.
    result = subprocess.run(
        [sys.executable, "-c", "import inboxcrm, inboxcrm.cli"],
        capture_output=True,
        text=True,
        env={"INBOXCRM_ENV": "nonsense"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
