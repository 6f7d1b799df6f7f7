"""Which database the tests run on: SQLite by default, PostgreSQL when
INBOXCRM_TEST_DATABASE_URL names a server (scripts/with-postgres sets it)."""

from __future__ import annotations

import os

POSTGRES_URL = os.environ.get("INBOXCRM_TEST_DATABASE_URL", "")
