from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.demo import demo_settings, seed, team
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.jobs import rescore_queued
from inboxcrm.sequences.models import Enrollment, Refusal, Sequence

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def test_the_demo_workspace_is_seeded_once(session: Session) -> None:
    workspace = seed(session, NOW)
    session.commit()
    people = team(session, workspace)
    assert [m.role.value for m in people] == ["admin", "rep", "marketer"]
    leads = session.scalar(select(func.count()).select_from(Lead))
    assert leads == 60
    assert seed(session, NOW).id == workspace.id
    assert session.scalar(select(func.count()).select_from(Lead)) == 60


def test_the_demo_runs_a_nurture_sequence_and_re_engages_cold_leads(session: Session) -> None:
    seed(session, NOW)
    session.commit()
    by_sequence = dict(
        session.execute(
            select(Sequence.name, func.count(Enrollment.id))
            .join(Enrollment, Enrollment.sequence_id == Sequence.id)
            .group_by(Sequence.name)
        )
        .tuples()
        .all()
    )
    assert by_sequence == {"Nurture new leads": 12, "Re-engagement of cold leads": 5}
    at = session.scalars(select(Enrollment.step_id).where(Enrollment.lead_id.is_not(None)))
    assert len(set(at)) >= 3  # enrollees at different steps
    # A nurture enrollee that went cold too: the policy left it out and says why.
    (refusal,) = session.scalars(select(Refusal)).all()
    assert refusal.reason == "in another sequence: Nurture new leads"


def test_demo_keys_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = demo_settings(Settings(env="demo", instance_dir=tmp_path))
    second = demo_settings(Settings(env="demo", instance_dir=tmp_path))
    assert (first.secret_key, first.token_key) == (second.secret_key, second.token_key)
    keys = tmp_path / "demo-keys.json"
    assert keys.stat().st_mode & 0o077 == 0
    assert json.loads(keys.read_text())["secret_key"] == first.secret_key


def test_the_demo_leads_score_from_what_they_are_not_from_made_up_numbers(
    session: Session, db: Database
) -> None:
    workspace = seed(session, NOW)
    session.commit()
    leads = session.scalars(select(Lead).where(Lead.workspace_id == workspace.id)).unique().all()
    assert {lead.score for lead in leads} == {0}
    # no temperature but the six the demo has gone cold (five caught by re-engagement)
    assert sum(lead.temperature is not None for lead in leads) == 6
    assert rescore_queued(db, NOW) == len(leads)
    session.expire_all()
    scored = session.scalars(select(Lead)).unique().all()
    senior = [lead for lead in scored if lead.title in ("CFO", "CEO", "COO", "VP Sales")]
    assert senior
    assert all(lead.score == 10 for lead in senior)  # a decision maker's title, nothing else
    assert {lead.temperature for lead in scored} == {None}  # no engagement: no temperature


def test_the_demo_console_says_where_to_go_and_keeps_the_access_log_in_a_file(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a free port for the demo's own address
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOXCRM_")}
    env.update(INBOXCRM_ENV="demo", INBOXCRM_INSTANCE_DIR=str(tmp_path))
    # -X faulthandler: a demo that will not stop is made to say where each thread waits.
    entry = "from inboxcrm.cli import main; main()"
    command = [sys.executable, "-X", "faulthandler", "-c", entry, "demo"]
    demo = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        printed = []
        for line in demo.stdout:
            printed.append(line)
            if line.startswith("Stop with Ctrl+C"):
                break
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the server starts listening just after the banner
            try:
                assert requests.get(f"{base}/signin", timeout=5).status_code == 200
                break
            except requests.ConnectionError:
                time.sleep(0.1)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            rest, _ = demo.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            demo.send_signal(signal.SIGABRT)
            rest, _ = demo.communicate(timeout=30)
            raise AssertionError(f"the demo did not stop within 30 s of Ctrl+C:\n{rest}") from None
    text = "".join(printed) + rest
    assert f"inboxcrm demo running at {base}" in text
    assert '"Sign in with Google"' in text
    assert [line.split()[0] for line in printed if "/signin/" in line] == [
        "admin",
        "rep",
        "marketer",
    ]
    assert "GET /signin" not in text  # the access log is in the file
    assert "development server" not in text
    assert "GET /signin HTTP/1.1" in (tmp_path / "demo.log").read_text()
