"""Parsing beside the database work: the sync hands a fetched batch to `parse_later` and
stores the batch before it while worker processes parse this one.

Parsing is pure and CPU-bound, and the database work holds the GIL, so threads would not
help. One pool per process, a worker per CPU but one (the storing process keeps a core:
it is the sync's bottleneck, and two workers on two cores slowed it), started on first
use and reused; until its workers are up, and for batches too small to be worth sending
(`POOLED`), messages are parsed here. A piece the pool fails to parse (a worker died) is
parsed here too: parsing never fails a batch. What parse logs in a worker (a message it
could not read) is logged again here, by the same logger, so it reaches this process's
handlers and filters; the addresses it normalized are remembered here, where capture
reads them back from the rows.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from inboxcrm.mail.parse import ParsedMessage, parse_message
from inboxcrm.mail.participants import remember_normalized

log = logging.getLogger(__name__)
POOLED = 100  # a smaller batch is parsed here: sending it costs more than parsing it
PIECE = 50  # messages per task: small enough to spread a batch over every worker
MAX_BREAKS = 3  # pools whose workers died before this process stops making new ones

Logged = list[tuple[str, int, str]]  # logger name, level, message
# A `users.messages.get` answer (`format=full`): decoded, or the JSON text Gmail sent,
# which costs next to nothing to send to a worker and is decoded there.
Resource = Mapping[str, Any] | str | bytes


class _Collect(logging.Handler):
    """In a worker: what parse logs, kept to send back with the parsed messages."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: Logged = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


_collect = _Collect()


def _start_worker() -> None:
    logger = logging.getLogger("inboxcrm")
    logger.handlers[:] = [_collect]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # A sync process killed outright cannot tell its workers to go: they go when it does.
    threading.Thread(target=_outlive_no_parent, name="parent-watch", daemon=True).start()


def _outlive_no_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
    os._exit(0)


def _ready() -> None:
    """A worker is up (its imports done)."""


def _parse(resource: Resource) -> ParsedMessage:
    if isinstance(resource, Mapping):
        return parse_message(resource)
    try:
        decoded = json.loads(resource)
    except ValueError:
        log.warning("a message Gmail sent is not JSON: skipped")
        return ParsedMessage()
    return parse_message(decoded)


def _parse_piece(resources: list[Resource]) -> tuple[list[ParsedMessage], Logged, float]:
    _collect.records = []
    started = time.process_time()
    parsed = [_parse(r) for r in resources]
    return parsed, _collect.records, time.process_time() - started


class _Pool:
    """The process's pool, made on first use (and again in a forked child, or after its
    workers died)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor: ProcessPoolExecutor | None = None
        self.pid = 0
        self.up: list[Future[None]] = []
        self.cpu = 0.0  # seconds the workers spent parsing, told with each piece
        self.failed = False
        self.breaks = 0

    def get(self) -> ProcessPoolExecutor | None:
        """The pool if its workers are up; None while they start, on one CPU, or when no
        pool can be started in this process (then it is not tried again)."""
        with self.lock:
            if self.failed:
                return None
            if self.executor is None or self.pid != os.getpid():
                workers = len(os.sched_getaffinity(0)) - 1
                if workers < 1:
                    return None
                try:
                    self.start(workers)
                except Exception:
                    log.warning("no parse pool: parsing in the sync's process", exc_info=True)
                    self.failed = True
                    self.executor = None
                    return None
            if not all(f.done() for f in self.up):
                return None
            return self.executor

    def start(self, workers: int) -> None:
        # spawn: the clock process runs threads, and forking those is unsafe.
        self.executor = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
        )
        self.pid = os.getpid()
        self.up = [self.executor.submit(_ready) for _ in range(workers)]

    def wait(self, timeout: float) -> bool:
        self.get()
        with self.lock:
            up = list(self.up) if self.executor is not None else []
        try:
            for ready in up:
                ready.result(timeout)
        except Exception:
            return False
        return bool(up)

    def shutdown(self) -> None:
        with self.lock:
            executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def broken(self, executor: ProcessPoolExecutor) -> None:
        with self.lock:
            if self.executor is executor:
                self.executor = None
                self.breaks += 1
                self.failed = self.breaks >= MAX_BREAKS
        executor.shutdown(wait=False, cancel_futures=True)


_pool = _Pool()


class Parsing:
    """A batch being parsed; `result` waits for it, in the batch's order."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = list(resources)
        self.executor = _pool.get() if len(self.resources) >= POOLED else None
        self.pieces: list[Future[tuple[list[ParsedMessage], Logged, float]]] = []
        if self.executor is not None:
            try:
                self.pieces = [
                    self.executor.submit(_parse_piece, self.resources[i : i + PIECE])
                    for i in range(0, len(self.resources), PIECE)
                ]
            except Exception:  # the pool broke or shut down: parse here
                log.warning("parse pool failed, parsing here", exc_info=True)
                _pool.broken(self.executor)
                self.pieces = []

    def result(self) -> list[ParsedMessage]:
        if not self.pieces:
            return [_parse(r) for r in self.resources]
        parsed: list[ParsedMessage] = []
        for i, piece in enumerate(self.pieces):
            try:
                messages, logged, seconds = piece.result()
                with _pool.lock:
                    _pool.cpu += seconds
            except Exception:  # a worker died: this piece is parsed here
                log.warning("parse pool failed, parsing here", exc_info=True)
                if self.executor is not None:
                    _pool.broken(self.executor)
                messages = [_parse(r) for r in self.resources[i * PIECE : (i + 1) * PIECE]]
                logged = []
            for name, level, message in logged:
                logging.getLogger(name).log(level, "%s", message)
            remember_normalized(
                a.email
                for m in messages
                for a in (*m.to, *m.cc, *m.bcc, *m.reply_to, *((m.from_,) if m.from_ else ()))
            )
            parsed += messages
        return parsed


def start_pool(wait: float = 0.0) -> bool:
    """Start the pool now rather than at the first large batch, waiting up to `wait`
    seconds for its workers; whether they are up."""
    return _pool.wait(wait)


def stop_pool() -> None:
    """Stop the workers (a later batch starts them again)."""
    _pool.shutdown()


def pool_cpu_seconds() -> float:
    """CPU time the pool's workers have spent parsing in this process's service."""
    return _pool.cpu


def parse_later(resources: Sequence[Resource]) -> Parsing:
    """Start parsing these Gmail messages; `.result()` gives them parsed, in order."""
    return Parsing(resources)
