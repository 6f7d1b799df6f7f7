from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from inboxcrm.cli import main
from inboxcrm.config import Settings
from tests.support.web import csrf_token


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("INBOXCRM_ENV", "production")
    monkeypatch.setenv("INBOXCRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("INBOXCRM_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("INBOXCRM_TOKEN_KEY", settings.token_key)
    return CliRunner()


def test_member_add_prints_a_link_that_signs_in(cli_env: CliRunner, client: FlaskClient) -> None:
    result = cli_env.invoke(
        main, ["member", "add", "Ann@Acme.com", "--workspace", "Acme", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    assert "created workspace 'Acme'" in result.output
    link = re.search(r"http://\S+/signin/(\S+)", result.output)
    assert link
    page = client.get(f"/signin/{link.group(1)}")
    assert "ann@acme.com" in page.text
    client.post(f"/signin/{link.group(1)}", data={"csrf_token": csrf_token(page.text)})
    assert client.get("/leads").status_code == 200

    again = cli_env.invoke(main, ["member", "add", "ann@acme.com", "--workspace", "Acme"])
    assert again.exit_code == 1
    assert "already a member" in again.output


def test_api_token_create_prints_a_working_token(cli_env: CliRunner, client: FlaskClient) -> None:
    cli_env.invoke(main, ["member", "add", "bo@acme.com", "--workspace", "Acme"])
    result = cli_env.invoke(main, ["api-token", "create", "bo@acme.com", "--name", "zapier"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("icrm_")
    response = client.get("/api/v1/stages", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    missing = cli_env.invoke(main, ["api-token", "create", "nobody@acme.com"])
    assert missing.exit_code == 1
    assert "no member" in missing.output


def test_a_bad_setting_stops_the_command_with_its_name(
    cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOXCRM_TOKEN_KEY", "nope")
    result = cli_env.invoke(main, ["member", "login-link", "x@acme.com"])
    assert result.exit_code == 1
    assert "INBOXCRM_TOKEN_KEY" in result.output


def test_keys_generate_prints_usable_keys() -> None:
    result = CliRunner().invoke(main, ["keys", "generate"])
    lines = dict(line.split("=", 1) for line in result.output.split())
    Fernet(lines["INBOXCRM_TOKEN_KEY"].encode())
    assert len(lines["INBOXCRM_SECRET_KEY"]) >= 32


def test_db_upgrade_is_idempotent(cli_env: CliRunner) -> None:
    for _ in range(2):
        result = cli_env.invoke(main, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_production_commands_refuse_to_run_without_keys(
    cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INBOXCRM_SECRET_KEY")
    result = cli_env.invoke(main, ["member", "login-link", "x@acme.com"])
    assert result.exit_code == 1
    assert "INBOXCRM_SECRET_KEY is required in production" in result.output
