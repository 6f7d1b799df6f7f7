"""Parsing beside the database work: the sync hands a fetched batch to `parse_later` and
stores the batch before it while worker processes parse this one.

Parsing is pure and CPU-bound, and the database work holds the GIL, so threads would not
help. One pool per process, a worker per CPU, started on first use and reused; until its
workers are up, and for batches too small to be worth sending (`POOLED`), messages are
parsed here. A piece the pool fails to parse (a worker died) is parsed here too: parsing
never fails a batch. What parse logs in a worker (a message it could not read) is logged
again here, by the same logger, so it reaches this process's handlers and filters.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from inboxcrm.mail.parse import ParsedMessage, parse_message

log = logging.getLogger(__name__)
POOLED = 100  # a smaller batch is parsed here: sending it costs more than parsing it
PIECE = 50  # messages per task: small enough to spread a batch over every worker

Logged = list[tuple[str, int, str]]  # logger name, level, message


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


def _ready() -> None:
    """A worker is up (its imports done)."""


def _parse_piece(resources: list[Mapping[str, Any]]) -> tuple[list[ParsedMessage], Logged]:
    _collect.records = []
    return [parse_message(r) for r in resources], _collect.records


class _Pool:
    """The process's pool, made on first use (and again in a forked child, or after its
    workers died)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor: ProcessPoolExecutor | None = None
        self.pid = 0
        self.up: list[Future[None]] = []

    def get(self) -> ProcessPoolExecutor | None:
        """The pool if its workers are up; None while they start, or on one CPU."""
        with self.lock:
            if self.executor is None or self.pid != os.getpid():
                workers = len(os.sched_getaffinity(0))
                if workers < 2:
                    return None
                # spawn: the clock process runs threads, and forking those is unsafe.
                self.executor = ProcessPoolExecutor(
                    workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                )
                self.pid = os.getpid()
                self.up = [self.executor.submit(_ready) for _ in range(workers)]
            if not all(f.done() for f in self.up):
                return None
            return self.executor

    def broken(self, executor: ProcessPoolExecutor) -> None:
        with self.lock:
            if self.executor is executor:
                self.executor = None
        executor.shutdown(wait=False, cancel_futures=True)


_pool = _Pool()


class Parsing:
    """A batch being parsed; `result` waits for it, in the batch's order."""

    def __init__(self, resources: Sequence[Mapping[str, Any]]) -> None:
        self.resources = list(resources)
        self.executor = _pool.get() if len(self.resources) >= POOLED else None
        self.pieces: list[Future[tuple[list[ParsedMessage], Logged]]] = []
        if self.executor is not None:
            try:
                self.pieces = [
                    self.executor.submit(_parse_piece, self.resources[i : i + PIECE])
                    for i in range(0, len(self.resources), PIECE)
                ]
            except RuntimeError:  # the pool broke or shut down: parse here
                _pool.broken(self.executor)
                self.pieces = []

    def result(self) -> list[ParsedMessage]:
        if not self.pieces:
            return [parse_message(r) for r in self.resources]
        parsed: list[ParsedMessage] = []
        for i, piece in enumerate(self.pieces):
            try:
                messages, logged = piece.result()
            except Exception:  # a worker died: this piece is parsed here
                log.warning("parse pool failed, parsing here", exc_info=True)
                if self.executor is not None:
                    _pool.broken(self.executor)
                messages = [parse_message(r) for r in self.resources[i * PIECE : (i + 1) * PIECE]]
                logged = []
            for name, level, message in logged:
                logging.getLogger(name).log(level, "%s", message)
            parsed += messages
        return parsed


def parse_later(resources: Sequence[Mapping[str, Any]]) -> Parsing:
    """Start parsing these Gmail resources (`format=full`); `.result()` gives them parsed."""
    return Parsing(resources)
