"""Migrations that carry data over, run on a database of their own (SQLite, or PostgreSQL
when INBOXCRM_TEST_DATABASE_URL names a server)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from inboxcrm.migrate import alembic_config, upgrade
from tests.support.database import POSTGRES_URL

pytestmark = pytest.mark.db
WHEN = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path}/migrations.sqlite3"
        return
    name = f"inboxcrm_migrations_{os.getpid()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def add(engine: Engine, table: str, **values: Any) -> int:
    """A row with `values`, every other required column filled with a plain value of its
    type: the models describe the newest schema, not the one being migrated from."""
    reflected = Table(table, MetaData(), autoload_with=engine)
    row: dict[str, Any] = {}
    for column in reflected.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        if column.server_default is not None:
            continue
        kind = column.type
        if isinstance(kind, Boolean):
            row[column.name] = False
        elif isinstance(kind, Integer):
            row[column.name] = 0
        elif isinstance(kind, DateTime):
            row[column.name] = WHEN
        elif isinstance(kind, JSON):
            row[column.name] = []
        else:
            row[column.name] = column.name[: getattr(kind, "length", None)]
    with engine.begin() as conn:
        result = conn.execute(insert(reflected).values(**row, **values))
        (key,) = result.inserted_primary_key or (None,)
    assert isinstance(key, int)
    return key


def test_0011_turns_the_bulk_flag_into_a_kind_and_back(empty_url: str) -> None:
    upgrade(empty_url, "0010")
    engine = create_engine(empty_url)
    ws = add(engine, "workspace", name="Acme", lead_policy="conversations")
    member = add(engine, "member", workspace_id=ws, email="rita@team.example", role="rep")
    box = add(engine, "mailbox", workspace_id=ws, member_id=member, email="rita@team.example")
    thread = add(engine, "thread", workspace_id=ws, mailbox_id=box, gmail_id="t1")
    mail = {"workspace_id": ws, "mailbox_id": box, "thread_id": thread, "direction": "in"}
    news = add(engine, "message", **mail, gmail_id="m1", bulk=True, sent_at=WHEN)
    answer = add(engine, "message", **mail, gmail_id="m2", bulk=False, sent_at=WHEN)
    stage = add(engine, "stage", workspace_id=ws, name="New", kind="open", position=0)
    lead = add(engine, "lead", workspace_id=ws, email="nina@client.example", stage_id=stage)
    activity = add(
        engine, "activity", workspace_id=ws, lead_id=lead, kind="message_in", message_id=answer
    )

    upgrade(empty_url, "0011")
    with engine.connect() as conn:
        rows = conn.execute(
            text('SELECT id, kind, "references", failed_recipients FROM message ORDER BY id')
        ).all()
        query = text("SELECT message_id FROM activity WHERE id = :id")
        linked = conn.scalar(query, {"id": activity})
    assert [(r.id, r.kind) for r in rows] == [(news, "bulk"), (answer, "person")]
    assert {str(r.references) for r in rows} == {"[]"}
    assert {str(r.failed_recipients) for r in rows} == {"[]"}
    assert linked == answer  # copying `message` on SQLite did not unlink its activities
    columns = {c["name"] for c in inspect(engine).get_columns("message")}
    assert "bulk" not in columns
    assert {"kind", "in_reply_to", "references", "auto_submitted"} <= columns
    assert {"failed_recipients", "original_message_id"} <= columns
    indexes = {i["name"] for i in inspect(engine).get_indexes("message")}
    assert {"ix_message_thread_id_sent_at", "ix_message_workspace_id_rfc_message_id"} <= indexes

    away = add(engine, "message", **mail, gmail_id="m3", kind="auto_reply", sent_at=WHEN)
    engine.dispose()
    command.downgrade(alembic_config(empty_url), "0010")
    with engine.connect() as conn:
        table = Table("message", MetaData(), autoload_with=conn)
        flags = dict(conn.execute(select(table.c.id, table.c.bulk)).tuples().all())
    assert flags == {news: True, answer: False, away: True}
    engine.dispose()
    upgrade(empty_url)  # and up again


def test_0021_fills_each_leads_last_engagement_from_its_awards(empty_url: str) -> None:
    upgrade(empty_url, "0020")
    engine = create_engine(empty_url)
    ws = add(engine, "workspace", name="Acme", lead_policy="conversations")
    stage = add(engine, "stage", workspace_id=ws, name="New", kind="open", position=0)
    lead = add(engine, "lead", workspace_id=ws, email="nina@client.example", stage_id=stage)
    quiet = add(engine, "lead", workspace_id=ws, email="otto@client.example", stage_id=stage)
    award = {"workspace_id": ws, "lead_id": lead, "half_life_days": None, "reason": "r"}
    day = dt.timedelta(days=1)
    add(engine, "score_event", **award, rule="reply", part="engagement", points=10,
        awarded_at=WHEN - 3 * day)  # fmt: skip
    add(engine, "score_event", **award, rule="meeting", part="engagement", points=20,
        awarded_at=WHEN - 2 * day)  # fmt: skip
    add(engine, "score_event", **award, rule="bounce", part="engagement", points=-20,
        awarded_at=WHEN - day)  # fmt: skip
    add(engine, "score_event", **award, rule="bant", part="fit", points=15, awarded_at=WHEN)

    upgrade(empty_url, "0021")
    reflected = Table("lead", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        engaged = dict(conn.execute(select(reflected.c.id, reflected.c.last_engaged_at)).all())
    # The latest award of positive engagement: not the bounce, not the fit
    assert {k: v if v is None else str(v)[:16] for k, v in engaged.items()} == {
        lead: str(WHEN - 2 * day)[:16],
        quiet: None,
    }
    assert {"score_rule", "score_settings"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    command.downgrade(alembic_config(empty_url), "0020")
    assert "last_engaged_at" not in {c["name"] for c in inspect(engine).get_columns("lead")}
    engine.dispose()
    upgrade(empty_url)


def test_0033_names_the_send_of_each_open_click_and_reply(empty_url: str) -> None:
    upgrade(empty_url, "0032")
    engine = create_engine(empty_url)
    ws = add(engine, "workspace", name="Acme", lead_policy="conversations")
    member = add(engine, "member", workspace_id=ws, email="ava@team.example", role="admin")
    box = add(engine, "mailbox", workspace_id=ws, member_id=member, email="ava@team.example")
    stage = add(engine, "stage", workspace_id=ws, name="New", kind="open", position=0)
    lead = add(engine, "lead", workspace_id=ws, email="nina@client.example", stage_id=stage)
    hour = dt.timedelta(hours=1)
    sent = {"workspace_id": ws, "lead_id": lead, "mailbox_id": box, "state": "sent",
            "gmail_thread_id": "t1", "source_kind": "step"}  # fmt: skip
    first = add(engine, "send", **sent, source_id="1:1", message_id="<a@team>", sent_at=WHEN)
    follow = add(engine, "send", **sent, source_id="1:3", message_id="<b@team>",
                 sent_at=WHEN + 2 * hour)  # fmt: skip
    thread = add(engine, "thread", workspace_id=ws, mailbox_id=box, gmail_id="t1")
    mail = {"workspace_id": ws, "mailbox_id": box, "thread_id": thread, "direction": "in"}
    answers_first = add(engine, "message", **mail, gmail_id="m1", in_reply_to="<a@team>",
                        sent_at=WHEN + 3 * hour)  # fmt: skip
    no_header = add(engine, "message", **mail, gmail_id="m2", sent_at=WHEN + 4 * hour)
    acts = {"workspace_id": ws, "lead_id": lead}
    opened = add(engine, "activity", **acts, kind="open", occurred_at=WHEN + hour,
                 detail={"send": str(first), "url": None})  # fmt: skip
    clicked = add(engine, "activity", **acts, kind="click", occurred_at=WHEN + hour,
                  detail={"send": "not-a-send"})  # fmt: skip
    reply = add(engine, "activity", **acts, kind="reply", message_id=answers_first,
                occurred_at=WHEN + 3 * hour)  # fmt: skip
    later = add(engine, "activity", **acts, kind="reply", message_id=no_header,
                occurred_at=WHEN + 4 * hour)  # fmt: skip

    upgrade(empty_url, "0033")
    with engine.connect() as conn:
        sends = dict(conn.execute(text("SELECT id, send_id FROM activity")).tuples().all())
    # Its In-Reply-To names the first email; the other reply is the thread's latest Send.
    assert sends == {opened: first, clicked: None, reply: first, later: follow}
    engine.dispose()
    command.downgrade(alembic_config(empty_url), "0032")
    assert "send_id" not in {c["name"] for c in inspect(engine).get_columns("activity")}
    engine.dispose()
    upgrade(empty_url)


def test_0040_stores_full_points_as_the_rules_and_back(empty_url: str) -> None:
    upgrade(empty_url, "0039")
    engine = create_engine(empty_url)
    ws = add(engine, "workspace", name="Acme", lead_policy="conversations")
    stage = add(engine, "stage", workspace_id=ws, name="New", kind="open", position=0)
    rules = [
        {"key": "reply", "name": "Replied", "trigger": "reply", "points": 10,
         "half_life_days": 30, "cap": 30, "period_days": 7, "within_hours": None},
        {"key": "bant", "name": "BANT filled", "trigger": "bant", "points": 15,
         "half_life_days": None, "cap": None, "period_days": None, "within_hours": None},
    ]  # fmt: skip
    add(engine, "score_rule_set", workspace_id=ws, digest="d1", rules=rules)
    lead = add(engine, "lead", workspace_id=ws, email="nina@client.example", stage_id=stage,
               scored_with="d1:3:9:ab")  # fmt: skip
    stray = add(engine, "lead", workspace_id=ws, email="otto@client.example", stage_id=stage)
    event = {"workspace_id": ws, "part": "engagement", "rule": "reply", "awarded_at": WHEN}
    full = add(engine, "score_event", **event, lead_id=lead, points=10, half_life_days=30,
               reason="Replied within 2 h to 'Q3' +10, halves every 30 days")  # fmt: skip
    cut = add(engine, "score_event", **event, lead_id=lead, points=6, half_life_days=30,
              reason="Replied within 2 h to 'Q3' +6, halves every 30 days")  # fmt: skip
    fit = add(engine, "score_event", workspace_id=ws, part="fit", rule="bant", awarded_at=WHEN,
              lead_id=lead, points=15, half_life_days=None, reason="BANT filled +15")  # fmt: skip
    unset = add(engine, "score_event", **event, lead_id=stray, points=10, half_life_days=30,
                reason="Replied +10, halves every 30 days")  # fmt: skip
    before = "SELECT id, points, half_life_days, reason FROM score_event ORDER BY id"
    with engine.connect() as conn:
        stored = conn.execute(text(before)).tuples().all()

    upgrade(empty_url, "0040")
    with engine.connect() as conn:
        rows = {r[0]: r[1:] for r in conn.execute(text(before)).tuples()}
    assert rows == {
        full: (None, None, "Replied within 2 h to 'Q3'"),  # the rule's full points
        cut: (6, 30, "Replied within 2 h to 'Q3' +6, halves every 30 days"),  # its cap cut it
        fit: (None, None, "BANT filled"),
        unset: (10, 30, "Replied +10, halves every 30 days"),  # its lead names no rule set
    }
    engine.dispose()
    command.downgrade(alembic_config(empty_url), "0039")
    with engine.connect() as conn:
        assert conn.execute(text(before)).tuples().all() == stored
    engine.dispose()
    upgrade(empty_url)
