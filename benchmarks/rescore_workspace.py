"""How long a changed score rule takes to rescore a whole workspace: LEADS leads (20,000 by
default, `python benchmarks/rescore_workspace.py 100000` for more) with 10 scored
activities each, on SQLite (or PostgreSQL, see benchmarks/database.py). An admin changes
a rule, which queues every lead; then the clock's rescore tick runs once and drains them.

Prints one JSON object: `rescore_workspace_s` (the tick), `leads_per_s`, and `left` (leads
still queued after that one tick: 0)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.database

from benchmarks.database import bench_database, dialect
from inboxcrm.accounts.models import Member, Role
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.db import Database
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.scoring.jobs import rescore_queued
from inboxcrm.scoring.settings import progress, replace_settings, scoring_of
from inboxcrm.stages.models import Stage

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PER_LEAD = 10


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as url:
        database = Database(url)
        with database.session() as session:
            workspace = create_workspace(session, "Bench", "bench.example")
            admin = add_member(session, workspace, "admin@bench.example", Role.admin, "Admin")
            stage = session.scalars(select(Stage.id).where(Stage.workspace_id == workspace.id))
            stage_id = next(iter(stage))
            session.flush()
            ws, admin_id = workspace.id, admin.id
        with database.session() as session:
            session.execute(
                insert(core_table(Lead)),
                [{"workspace_id": ws, "email": f"lead{i}@client{i % 97}.example",
                  "stage_id": stage_id, "score": 0, "currency": "USD", "source": "bench",
                  "needs_review": False, "search_text": ""} for i in range(count)],
            )  # fmt: skip
            ids = list(session.scalars(select(Lead.id).where(Lead.workspace_id == ws)))
            kinds = (ActivityKind.reply, ActivityKind.meeting, ActivityKind.inquiry)
            rows = [
                {"workspace_id": ws, "lead_id": lead, "kind": kinds[n % 3],
                 "occurred_at": NOW - dt.timedelta(days=3 * n + lead % 5),
                 "detail": {"latency_seconds": 3600 * (n + 1)}}
                for lead in ids
                for n in range(PER_LEAD)
            ]  # fmt: skip
            for start in range(0, len(rows), 50_000):
                session.execute(insert(core_table(Activity)), rows[start : start + 50_000])
        with database.session() as session:
            admin_row = session.get_one(Member, admin_id)
            current = scoring_of(session, ws)
            changed = tuple(
                replace(s, rule=replace(s.rule, points=25)) if s.rule.key == "meeting" else s
                for s in current.settings
            )
            replace_settings(session, admin_row, replace(current, settings=changed), NOW)
        started = time.perf_counter()
        done = rescore_queued(database, NOW)
        took = time.perf_counter() - started
        with database.session() as session:
            going = progress(session, ws)
            left = (going.total - going.done) if going else None
        print(json.dumps({
            "database": dialect(), "leads": count, "activities": count * PER_LEAD,
            "rescored": done, "rescore_workspace_s": round(took, 2),
            "leads_per_s": round(done / took) if took else None, "left": left,
        }))  # fmt: skip


if __name__ == "__main__":
    main()
