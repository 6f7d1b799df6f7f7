"""The demo's files at rest: the instance folder 0700, the SQLite database with its -wal and
-shm files and the demo keys 0600, under the usual umask of 022."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from inboxcrm.cli import main
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.demo import demo_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most shells hand a process: files 0644, folders 0755
    yield
    os.umask(old)


def test_db_upgrade_makes_a_private_instance_folder_and_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setenv("INBOXCRM_ENV", "demo")
    monkeypatch.setenv("INBOXCRM_INSTANCE_DIR", str(instance))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert mode(instance) == 0o700
    database = instance / "inboxcrm.sqlite3"
    assert mode(database) == 0o600

    demo_settings(Settings(env="demo", instance_dir=instance))
    assert mode(instance / "demo-keys.json") == 0o600

    # The web process writes: SQLite's -wal and -shm files follow the database's mode.
    db = Database(f"sqlite:///{database}")
    with db.session() as session:
        session.execute(text("CREATE TABLE scratch (x INTEGER)"))
        session.execute(text("INSERT INTO scratch VALUES (1)"))
        sides = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm")]
        assert all(side.exists() for side in sides)
        assert [mode(side) for side in sides] == [0o600, 0o600]
    db.dispose()
    assert all(mode(p) & 0o077 == 0 for p in instance.iterdir())


def test_files_left_open_by_an_older_version_are_closed_at_start(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "inboxcrm.sqlite3"
    keys = instance / "demo-keys.json"
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"), keys):
        path.write_bytes(b"" if path != keys else b'{"secret_key": "k", "token_key": "t"}')
        path.chmod(0o644)
    instance.chmod(0o755)
    demo_settings(Settings(env="demo", instance_dir=instance))
    Database(f"sqlite:///{database}").dispose()
    assert mode(instance) == 0o700
    assert {p.name: mode(p) for p in instance.iterdir()} == {
        "inboxcrm.sqlite3": 0o600,
        "inboxcrm.sqlite3-wal": 0o600,
        "inboxcrm.sqlite3-shm": 0o600,
        "demo-keys.json": 0o600,
    }


def test_a_database_elsewhere_is_left_alone_when_its_folder_is_missing(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "db.sqlite3"
    Database(f"sqlite:///{missing}").dispose()
    assert not missing.parent.exists()  # SQLite reports the missing folder, as before
