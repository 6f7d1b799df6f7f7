"""Running inboxcrm as a separate command, the way an operator (or a crash) sees it."""

from __future__ import annotations

import os
import subprocess
import sys

from inboxcrm.config import Settings


def environment(settings: Settings) -> dict[str, str]:
    """The settings as the INBOXCRM_* variables a separate command would read."""
    names = ("database_url", "secret_key", "token_key", "base_url")
    google = [n for n in Settings.__dataclass_fields__ if n.startswith("google_")]
    env = {f"INBOXCRM_{n.upper()}": str(getattr(settings, n)) for n in (*names, *google)}
    return {**env, "INBOXCRM_ENV": "production"}


def start(settings: Settings, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """`inboxcrm ARGS...` as its own process, with these settings (and `env` on top)."""
    command = [sys.executable, "-c", "from inboxcrm.cli import main; main()", *args]
    return subprocess.Popen(
        command,
        env={**os.environ, **environment(settings), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
