"""Parsing in worker processes: the same messages as parsing here, in order, what parse
logs logged here, and a pool whose workers died never costs a batch."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from inboxcrm.mail.parse import parse_message, parse_raw
from inboxcrm.mail.pool import POOLED, parse_later, pool_cpu_seconds, start_pool, stop_pool
from tests.support.corpus import CORPUS
from tests.support.gmail_json import to_gmail_json

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: no pool")


def _resources(count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        msg = EmailMessage()
        msg["From"] = f'"Lee, Ann {i}" <ann{i}@acme.example>'
        msg["To"] = "Ava Reed <ava@northwind.io>, sales@northwind.io"
        msg["Subject"] = f"Pilot {i} — Preise"
        msg["Message-ID"] = f"<m{i}@acme.example>"
        msg.set_content(f"Hello,\nline {i}\n")
        if i % 3:
            msg.add_alternative(f"<p>Hello {i}</p>", subtype="html")
        out.append(to_gmail_json(msg, gmail_id=f"{i:016x}", thread_id=f"{i // 4:016x}"))
    out[7]["payload"]["parts"][0]["body"]["data"] = "A"  # never base64: dropped and logged
    return out


@pytest.fixture
def pool() -> Iterator[None]:
    assert start_pool(wait=120)
    yield
    stop_pool()


def test_a_batch_parsed_in_the_pool_is_the_batch_parsed_here(
    pool: None, caplog: pytest.LogCaptureFixture
) -> None:
    resources = _resources(POOLED + 30)
    before = pool_cpu_seconds()
    with caplog.at_level(logging.WARNING, logger="inboxcrm.mail.parse"):
        parsed = parse_later(resources).result()
    (record,) = [r for r in caplog.records if "0000000000000007" in r.getMessage()]
    assert pool_cpu_seconds() > before  # the workers did parse it
    assert parsed == [parse_message(r) for r in resources]
    assert [p.gmail_id for p in parsed] == [r["id"] for r in resources]
    assert record.name == "inboxcrm.mail.parse"
    assert "bad base64" in record.getMessage()


def test_a_small_batch_is_parsed_here(pool: None) -> None:
    resources = _resources(POOLED - 1)
    before = pool_cpu_seconds()
    assert parse_later(resources).result() == [parse_message(r) for r in resources]
    assert pool_cpu_seconds() == before


def test_workers_that_died_cost_no_message(pool: None, caplog: pytest.LogCaptureFixture) -> None:
    resources = _resources(POOLED * 2)
    for worker in multiprocessing.active_children():  # killed as the OOM killer would
        os.kill(worker.pid or 0, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="inboxcrm.mail.pool"):
        parsed = parse_later(resources).result()
    assert "parse pool failed, parsing here" in caplog.text
    assert parsed == [parse_message(r) for r in resources]
    # The next batch gets a new pool, or is parsed here while it starts.
    assert parse_later(resources).result() == [parse_message(r) for r in resources]


def _fields(value: Any) -> Any:
    """Every field, nested, including those equality leaves out (a diagnostic code)."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(_fields(getattr(value, f.name)) for f in fields(value)))
    if isinstance(value, tuple):
        return tuple(_fields(v) for v in value)
    return value


def test_every_parsed_message_of_the_corpus_comes_back_from_a_worker_field_for_field() -> None:
    files = sorted(CORPUS.rglob("*.eml"))
    assert len(files) > 100
    for path in files:
        parsed = parse_raw(path.read_bytes(), gmail_id=path.stem)
        back = pickle.loads(pickle.dumps(parsed, pickle.HIGHEST_PROTOCOL))  # noqa: S301
        assert _fields(back) == _fields(parsed), path.name
        assert type(back.from_) is type(parsed.from_)
