"""One claim for every due-queue: several processes draining one queue at once each get
every row at most once, on SQLite and (run again there) on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.accounts.models import Mailbox
from inboxcrm.db import Database
from tests.factories import MailboxFactory, MemberFactory

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
WORKERS = 4


def _drain(url: str, start: Any, results: Any) -> None:
    """One worker process: all claim at the same moment, wait until each has, then claim
    a few rows at a time until the queue is empty, and report what they got."""
    database = Database(url)
    claimed: list[int] = []
    start.wait()  # the first claims race each other
    first = True
    while True:
        with database.session() as session:
            taken = queue.claim(session, Mailbox.next_poll_at, NOW, LEASE, limit=7)
            # A claim can lose the race for all its candidates (SQLite): the queue is
            # drained only when nothing is due any more.
            left = session.scalar(select(func.count()).where(queue.due(Mailbox.next_poll_at, NOW)))
        if first:
            first = False
            start.wait()  # all first claims are made before anyone drains the rest
        if not taken and not left:
            break
        claimed += taken
        time.sleep(0.002)  # the work a claim is for: the others get their turn meanwhile
    database.dispose()
    results.put(claimed)


def _mailboxes(count: int) -> list[Mailbox]:
    member = MemberFactory()
    return [
        MailboxFactory(
            member=member, email=f"m{i}@team.example", next_poll_at=NOW - dt.timedelta(seconds=i)
        )
        for i in range(count)
    ]


@pytest.mark.slow  # separate processes, waited for
def test_processes_claiming_one_queue_at_once_never_take_a_row_twice(
    db: Database, session: Session
) -> None:
    boxes = _mailboxes(1000)
    context = multiprocessing.get_context("spawn")
    start, reports = context.Barrier(WORKERS), context.Queue()
    workers = [
        context.Process(target=_drain, args=(db.url, start, reports)) for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    results = [reports.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    claimed = [row_id for result in results for row_id in result]
    assert len(claimed) == len(set(claimed))  # no row claimed twice
    assert set(claimed) == {b.id for b in boxes}  # and none left behind
    assert sum(1 for result in results if result) >= 2  # the workers really overlapped
    session.expire_all()
    leased = set(session.scalars(select(Mailbox.next_poll_at)))
    assert leased == {NOW + LEASE}


def test_a_claim_takes_due_rows_oldest_first_and_a_release_keeps_a_newer_due_time(
    session: Session,
) -> None:
    boxes = _mailboxes(3)
    boxes[0].next_poll_at = NOW + dt.timedelta(minutes=1)  # not due yet
    session.commit()
    taken = queue.claim(session, Mailbox.next_poll_at, NOW, LEASE, limit=10)
    assert taken == [boxes[2].id, boxes[1].id]  # the longest due first
    assert queue.claim(session, Mailbox.next_poll_at, NOW, LEASE, limit=10) == []
    # Someone queues box 1 again while its claim is held: releasing keeps that request.
    boxes[1].next_poll_at = NOW + dt.timedelta(seconds=30)
    session.flush()
    assert queue.release(session, Mailbox.next_poll_at, taken, NOW + LEASE) == 1
    session.commit()
    session.expire_all()
    assert session.get_one(Mailbox, boxes[2].id).next_poll_at is None
    assert session.get_one(Mailbox, boxes[1].id).next_poll_at == NOW + dt.timedelta(seconds=30)
    # A lease that ran out makes its rows due again: a dead worker's rows are not lost.
    again = queue.claim(session, Mailbox.next_poll_at, NOW + LEASE, LEASE, limit=10)
    assert again == [boxes[1].id, boxes[0].id]


def test_a_worker_that_waits_claims_its_row_ahead_so_the_next_claim_takes_the_one_after(
    session: Session,
) -> None:
    boxes = _mailboxes(3)
    boxes[0].next_poll_at = NOW + dt.timedelta(seconds=2)
    boxes[1].next_poll_at = NOW + dt.timedelta(seconds=5)
    boxes[2].next_poll_at = NOW + dt.timedelta(seconds=30)
    session.commit()
    looked = queue.claim_next(session, Mailbox.next_poll_at, NOW, LEASE, limit=1)
    assert (looked.ids, looked.next_due) == ([], NOW + dt.timedelta(seconds=2))
    ahead = dt.timedelta(seconds=15)
    waiter = queue.claim_next(session, Mailbox.next_poll_at, NOW, LEASE, limit=1, ahead=ahead)
    assert (waiter.ids, waiter.due) == ([boxes[0].id], [NOW + dt.timedelta(seconds=2)])
    assert waiter.next_due == NOW + dt.timedelta(seconds=5)
    # Another process's waiter passes over the row held and takes the next; a third finds
    # nothing within its look ahead and learns when to look again.
    other = queue.claim_next(session, Mailbox.next_poll_at, NOW, LEASE, limit=1, ahead=ahead)
    assert (other.ids, other.due) == ([boxes[1].id], [NOW + dt.timedelta(seconds=5)])
    third = queue.claim_next(session, Mailbox.next_poll_at, NOW, LEASE, limit=1, ahead=ahead)
    assert (third.ids, third.next_due) == ([], NOW + dt.timedelta(seconds=30))


def test_a_row_claimed_but_not_worked_goes_back_as_it_was(session: Session) -> None:
    boxes = _mailboxes(1)
    due = NOW + dt.timedelta(seconds=3)
    boxes[0].next_poll_at, boxes[0].last_error = due, "before"
    session.commit()
    claimed = queue.claim_next(
        session,
        Mailbox.next_poll_at,
        NOW,
        LEASE,
        limit=1,
        ahead=dt.timedelta(seconds=10),
        also={"last_error": "claimed"},
    )
    assert (claimed.due, claimed.was) == ([due], [{"last_error": "before"}])
    queue.release(session, Mailbox.next_poll_at, claimed.ids, NOW + LEASE, due, claimed.was[0])
    session.commit()
    session.expire_all()
    box = session.get_one(Mailbox, boxes[0].id)
    assert (box.next_poll_at, box.last_error) == (due, "before")


def test_draining_works_each_due_row_once_a_step_at_a_time_and_a_failed_step_waits_its_lease(
    db: Database, session: Session
) -> None:
    boxes = _mailboxes(5)
    session.commit()
    steps: list[list[int]] = []

    def work(step_session: Session, ids: list[int]) -> None:
        steps.append(ids)
        if boxes[0].id in ids:  # the work queues this row again: its new time stands
            step_session.get_one(Mailbox, boxes[0].id).next_poll_at = NOW + LEASE * 3

    assert queue.drain(db, Mailbox.next_poll_at, NOW, work, lease=LEASE, step=2) == 5
    assert [len(ids) for ids in steps] == [2, 2, 1]
    assert sorted(i for ids in steps for i in ids) == sorted(b.id for b in boxes)
    session.expire_all()
    polls = {b.id: session.get_one(Mailbox, b.id).next_poll_at for b in boxes}
    assert polls.pop(boxes[0].id) == NOW + LEASE * 3
    assert set(polls.values()) == {None}

    # A step that fails rolls back; its rows stay leased and come due when the lease ends.
    session.get_one(Mailbox, boxes[1].id).next_poll_at = NOW
    session.commit()

    def broken(step_session: Session, ids: list[int]) -> None:
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError):
        queue.drain(db, Mailbox.next_poll_at, NOW, broken, lease=LEASE, step=2)
    assert queue.drain(db, Mailbox.next_poll_at, NOW, work, lease=LEASE, step=2) == 0
    later = NOW + LEASE
    assert queue.drain(db, Mailbox.next_poll_at, later, work, lease=LEASE, step=2) == 1


def test_a_claim_asked_to_load_reads_the_rows_it_claimed_in_its_update(
    db: Database, session: Session
) -> None:
    boxes = _mailboxes(3)
    boxes[2].next_poll_at = NOW + dt.timedelta(minutes=1)
    session.commit()
    with db.session() as s:
        claimed = queue.claim_next(
            s, Mailbox.next_poll_at, NOW, LEASE, limit=5, also={"last_error": "x"}, load=True
        )
    # The rows as the UPDATE left them, usable after their session ended.
    assert [r.id for r in claimed.rows] == claimed.ids == [boxes[1].id, boxes[0].id]
    assert {(r.email, r.next_poll_at, r.last_error) for r in claimed.rows} == {
        (boxes[0].email, NOW + LEASE, "x"),
        (boxes[1].email, NOW + LEASE, "x"),
    }
    assert claimed.next_due == NOW + dt.timedelta(minutes=1)
    with db.session() as s:  # nothing due: no rows
        assert queue.claim_next(s, Mailbox.next_poll_at, NOW, LEASE, limit=5, load=True).rows == []
