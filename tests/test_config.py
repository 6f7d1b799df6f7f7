from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from inboxcrm.config import ConfigError, load_settings


def test_defaults_point_at_google_and_an_instance_sqlite_file() -> None:
    settings = load_settings({})
    assert settings.env == "production"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("instance/inboxcrm.sqlite3")
    assert settings.google_token_uri == "https://oauth2.googleapis.com/token"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"INBOXCRM_ENV": "staging"}, "INBOXCRM_ENV"),
        ({"INBOXCRM_DATABASE_URL": "mysql://x"}, "INBOXCRM_DATABASE_URL"),
        ({"INBOXCRM_SECRET_KEY": "short"}, "INBOXCRM_SECRET_KEY"),
        ({"INBOXCRM_TOKEN_KEY": "not-a-fernet-key"}, "INBOXCRM_TOKEN_KEY"),
        ({"INBOXCRM_BASE_URL": "ftp://x"}, "INBOXCRM_BASE_URL"),
        ({"INBOXCRM_GOOGLE_TOKEN_URI": "nope"}, "INBOXCRM_GOOGLE_TOKEN_URI"),
        ({"INBOXCRM_LOG_LEVEL": "chatty"}, "INBOXCRM_LOG_LEVEL"),
        ({"INBOXCRM_DATABSE_URL": "sqlite://"}, "INBOXCRM_DATABSE_URL"),
    ],
)
def test_a_bad_variable_is_refused_by_name(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(environ)


def test_production_refuses_to_start_without_its_keys() -> None:
    with pytest.raises(ConfigError, match="INBOXCRM_SECRET_KEY"):
        load_settings({}).require_secrets()
    with pytest.raises(ConfigError, match="INBOXCRM_TOKEN_KEY"):
        load_settings({"INBOXCRM_SECRET_KEY": "k" * 40}).require_secrets()
    ready = load_settings(
        {"INBOXCRM_SECRET_KEY": "k" * 40, "INBOXCRM_TOKEN_KEY": Fernet.generate_key().decode()}
    ).require_secrets()
    assert ready.secret_key == "k" * 40


def test_demo_and_tests_generate_their_own_keys() -> None:
    settings = load_settings({"INBOXCRM_ENV": "demo"}).require_secrets()
    assert len(settings.secret_key) >= 32
    Fernet(settings.token_key.encode())  # a usable key
    assert "secret" not in repr(settings).lower().replace("secret_key", "")
