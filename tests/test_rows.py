"""Rows a batch at a time (`db.insert_rows`, `db.update_by_id`): what they store reads back
as what Core stores from the same values, on SQLite and PostgreSQL alike; and rows read
as the driver returns them (`db.driver_rows`), their times by `db.driver_time`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from inboxcrm.db import driver_rows, driver_time, insert_rows, update_by_id
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from tests.factories import MailboxFactory

TIMES = [
    dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.UTC),
    dt.datetime(2025, 11, 23, 10, 0, 0, 1, tzinfo=dt.UTC),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(2024, 7, 1, 12, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(812, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
]


def _message(mailbox: Any, thread: Thread, i: int, sent_at: dt.datetime) -> dict[str, Any]:
    return {
        "workspace_id": mailbox.workspace_id,
        "mailbox_id": mailbox.id,
        "thread_id": thread.id,
        "gmail_id": f"g{i}",
        "rfc_message_id": f"<m{i}@x.example>" if i % 2 else None,
        "direction": Direction.outbound if i % 3 else Direction.inbound,
        "from_addr": '"Smith, Ann" <ann@x.example>',
        "sent_at": sent_at,
        "label_ids": ["INBOX", "Ünïcode"] if i % 2 else [],
        "body_text": None if i % 2 else "héllo",
        "attachments": [{"filename": "a.pdf", "size": 3}] if i % 2 else [],
        "kind": MessageKind.bounce if i % 2 else MessageKind.person,
        "references": [f"<r{i}@x.example>"],  # a keyword as a column name
        "failed_recipients": [],
    }


def _read(session: Session, prefix: str) -> list[tuple[Any, ...]]:
    session.expire_all()
    columns = [c for c in Message.__table__.c if c.key not in ("id", "gmail_id")]
    rows = session.execute(
        select(Message.gmail_id, *columns)
        .where(Message.gmail_id.like(f"{prefix}%"))
        .order_by(Message.gmail_id)
    )
    return [tuple(r[1:]) for r in rows]


@pytest.mark.parametrize("size", [1, len(TIMES)])
def test_bulk_rows_read_back_as_core_writes_them(session: Session, size: int) -> None:
    mailbox = MailboxFactory()
    thread = Thread(workspace_id=mailbox.workspace_id, mailbox_id=mailbox.id, gmail_id="t")
    session.add(thread)
    session.flush()
    rows = [_message(mailbox, thread, i, at) for i, at in enumerate(TIMES[:size])]
    session.execute(insert(Message), [{**r, "gmail_id": "core" + r["gmail_id"]} for r in rows])
    insert_rows(session, Message, [{**r, "gmail_id": "bulk" + r["gmail_id"]} for r in rows])
    assert _read(session, "bulk") == _read(session, "core")
    stored = session.scalars(select(Message.sent_at).where(Message.gmail_id.like("bulk%")))
    assert sorted(stored) == sorted(TIMES[:size])  # the same instants, in UTC


def test_bulk_updates_read_back_and_loaded_objects_see_them(session: Session) -> None:
    mailbox = MailboxFactory()
    threads = [
        Thread(workspace_id=mailbox.workspace_id, mailbox_id=mailbox.id, gmail_id=f"t{i}")
        for i in range(len(TIMES))
    ]
    session.add_all(threads)
    session.flush()
    update_by_id(
        session,
        Thread,
        [{"row": t.id, "at": TIMES[i], "text": f"s{i}"} for i, t in enumerate(threads)],
        {"last_message_at": "at", "snippet": "text"},
    )
    assert [t.last_message_at for t in threads] == TIMES  # loaded objects read again
    assert [t.snippet for t in threads] == [f"s{i}" for i in range(len(TIMES))]


def test_a_naive_datetime_is_refused(session: Session) -> None:
    mailbox = MailboxFactory()
    thread = Thread(workspace_id=mailbox.workspace_id, mailbox_id=mailbox.id, gmail_id="t")
    session.add(thread)
    session.flush()
    row = _message(mailbox, thread, 1, dt.datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(Exception, match="naive datetime"):
        insert_rows(session, Message, [row])


def test_times_read_through_the_driver_are_the_times_stored(session: Session) -> None:
    mailbox = MailboxFactory()
    thread = Thread(workspace_id=mailbox.workspace_id, mailbox_id=mailbox.id, gmail_id="t")
    session.add(thread)
    session.flush()
    insert_rows(session, Message, [_message(mailbox, thread, i, at) for i, at in enumerate(TIMES)])
    rows = driver_rows(session, select(Message.sent_at).where(Message.thread_id == thread.id))
    read = [driver_time(at) for (at,) in rows]
    assert sorted(read) == sorted(TIMES)
    assert all(at.utcoffset() == dt.timedelta(0) for at in read)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2025-11-23 10:00:00.000001", dt.datetime(2025, 11, 23, 10, 0, 0, 1, tzinfo=dt.UTC)),
        ("2025-11-23 10:00:00", dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.UTC)),  # SQL's own
        ("2025-11-23T12:00:00+02:00", dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.UTC)),
    ],
)
def test_a_stored_text_reads_as_its_instant_in_utc(text: str, instant: dt.datetime) -> None:
    read = driver_time(text)
    assert read == instant
    assert read.utcoffset() == dt.timedelta(0)


def test_a_stored_text_that_is_no_time_is_refused() -> None:
    with pytest.raises(ValueError, match="Invalid isoformat"):
        driver_time("yesterday")
