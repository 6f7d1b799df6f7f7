"""Settings from INBOXCRM_* environment variables, validated once at start-up.

A bad value stops the process with a message naming the variable, so a typo in a
deployment fails at boot rather than at the first request that needs it.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

PREFIX = "INBOXCRM_"
ENVIRONMENTS = ("production", "development", "demo", "test")
GOOGLE_API_ROOT = "https://gmail.googleapis.com/"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
GOOGLE_USERINFO_URI = "https://openidconnect.googleapis.com/v1/userinfo"


# Where rate limits can count: the `limits` library's synchronous storages that keep a
# moving window (memcached does not).
RATELIMIT_SCHEMES = frozenset(
    (
        "memory",
        "redis",
        "rediss",
        "redis+unix",
        "redis+cluster",
        "redis+sentinel",
        "valkey",
        "valkeys",
        "valkey+unix",
        "valkey+cluster",
        "valkey+sentinel",
        "mongodb",
        "mongodb+srv",
    )
)
_LOGGER_NAME = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    env: str = "production"
    instance_dir: Path = Path("instance")
    database_url: str = ""
    secret_key: str = field(default="", repr=False)
    token_key: str = field(default="", repr=False)
    base_url: str = "http://127.0.0.1:5000"
    log_level: str = "INFO"
    poll_seconds: int = 60  # each mailbox's Gmail polled this often
    # Third-party loggers to run at DEBUG (all others stay at WARNING); still redacted.
    debug_loggers: tuple[str, ...] = ()
    # Where rate limits count: memory:// is per process; several processes share redis://.
    ratelimit_storage_uri: str = field(default="memory://", repr=False)  # may hold a password
    # Proxies in front of the web process whose X-Forwarded-For is believed (0: none).
    trusted_proxies: int = 0
    google_client_id: str = ""
    google_client_secret: str = field(default="", repr=False)
    google_api_root: str = GOOGLE_API_ROOT
    google_auth_uri: str = GOOGLE_AUTH_URI
    google_token_uri: str = GOOGLE_TOKEN_URI
    google_revoke_uri: str = GOOGLE_REVOKE_URI
    google_userinfo_uri: str = GOOGLE_USERINFO_URI

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def require_secrets(self) -> Settings:
        """Web and clock need keys: production brings its own, other environments get fresh ones."""
        if self.is_production:
            if not self.secret_key:
                raise ConfigError(f"{PREFIX}SECRET_KEY is required in production")
            if not self.token_key:
                raise ConfigError(
                    f"{PREFIX}TOKEN_KEY is required in production "
                    "(generate one with: inboxcrm keys generate)"
                )
            return self
        return replace(
            self,
            secret_key=self.secret_key or secrets.token_urlsafe(32),
            token_key=self.token_key or Fernet.generate_key().decode(),
        )


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{PREFIX}{name} must be an http(s) URL, got {value!r}")
    return value


def _fernet_key(name: str, value: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"{PREFIX}{name} must be a Fernet key (32 url-safe base64-encoded bytes)")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every INBOXCRM_* variable; unknown ones are refused too."""
    environ = os.environ if environ is None else environ
    known = {f"{PREFIX}{name.upper()}" for name in Settings.__dataclass_fields__}
    unknown = sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
    # Tests and tools may set their own INBOXCRM_TEST_* variables.
    unknown = [k for k in unknown if not k.startswith(f"{PREFIX}TEST_")]
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (known: {', '.join(sorted(known))})")

    def get(name: str, default: str = "") -> str:
        return environ.get(f"{PREFIX}{name}", default).strip()

    env = get("ENV", "production")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"{PREFIX}ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    instance_dir = Path(get("INSTANCE_DIR", "instance")).absolute()
    database_url = get("DATABASE_URL") or f"sqlite:///{instance_dir / 'inboxcrm.sqlite3'}"
    if not database_url.startswith(("sqlite://", "postgresql")):
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, "
            f"got {database_url.split(':', 1)[0]!r}"
        )
    secret_key = get("SECRET_KEY")
    if secret_key and len(secret_key) < 32:
        raise ConfigError(f"{PREFIX}SECRET_KEY must be at least 32 characters")
    token_key = get("TOKEN_KEY")
    if token_key:
        _fernet_key("TOKEN_KEY", token_key)
    log_level = get("LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    poll = get("POLL_SECONDS", "60")
    if not poll.isdigit() or not 1 <= int(poll) <= 3600:
        raise ConfigError(f"{PREFIX}POLL_SECONDS must be a whole number of seconds, 1 to 3600")
    debug_loggers = tuple(name for name in re.split(r"[,\s]+", get("DEBUG_LOGGERS")) if name)
    for name in debug_loggers:
        if not _LOGGER_NAME.fullmatch(name):
            raise ConfigError(
                f"{PREFIX}DEBUG_LOGGERS must be logger names separated by commas, got {name!r}"
            )
    storage = get("RATELIMIT_STORAGE_URI", "memory://")
    scheme = storage.split("://", 1)[0] if "://" in storage else ""
    if scheme not in RATELIMIT_SCHEMES:
        raise ConfigError(
            f"{PREFIX}RATELIMIT_STORAGE_URI must be a URI such as memory:// or "
            f"redis://host:6379/0, got scheme {scheme!r}"
        )
    proxies = get("TRUSTED_PROXIES", "0")
    if not proxies.isdigit() or int(proxies) > 5:
        raise ConfigError(f"{PREFIX}TRUSTED_PROXIES must be a number of proxies from 0 to 5")
    return Settings(
        env=env,
        instance_dir=instance_dir,
        database_url=database_url,
        secret_key=secret_key,
        token_key=token_key,
        base_url=_url("BASE_URL", get("BASE_URL", "http://127.0.0.1:5000")).rstrip("/"),
        log_level=log_level,
        poll_seconds=int(poll),
        debug_loggers=debug_loggers,
        ratelimit_storage_uri=storage,
        trusted_proxies=int(proxies),
        google_client_id=get("GOOGLE_CLIENT_ID"),
        google_client_secret=get("GOOGLE_CLIENT_SECRET"),
        google_api_root=_url("GOOGLE_API_ROOT", get("GOOGLE_API_ROOT", GOOGLE_API_ROOT)),
        google_auth_uri=_url("GOOGLE_AUTH_URI", get("GOOGLE_AUTH_URI", GOOGLE_AUTH_URI)),
        google_token_uri=_url("GOOGLE_TOKEN_URI", get("GOOGLE_TOKEN_URI", GOOGLE_TOKEN_URI)),
        google_revoke_uri=_url("GOOGLE_REVOKE_URI", get("GOOGLE_REVOKE_URI", GOOGLE_REVOKE_URI)),
        google_userinfo_uri=_url(
            "GOOGLE_USERINFO_URI", get("GOOGLE_USERINFO_URI", GOOGLE_USERINFO_URI)
        ),
    )
