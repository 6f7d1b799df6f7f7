"""The collector's view of a process that syncs mail: what the process held before its
first sizeable batch (modules, mappers, compiled statements, the app) is set aside once,
so the full collections a sync's allocations set off walk only the sync's own objects.

Without it, each of those collections walks every object the process has (about 200,000
once the app is imported, some 100 ms a walk on a loaded machine), and a full sync set one
off every few hundred messages: a fifth of the sync's CPU. Objects set aside are still
freed when nothing refers to them; only a cycle of them that dies later is never found,
and those are few: the process's long-lived state.

It also makes the young generation's collections rarer (every `YOUNG` new objects, not
Python's 700). A sync batch's rows and parsed messages live until its commit, so with the
default a 3,000-message sync ran some 280 collections that walked them again and again:
a tenth of its CPU. Garbage is still found, a little later.
"""

from __future__ import annotations

import gc
import os
import threading

YOUNG = 10_000  # new objects between the young generation's collections (Python: 700)
_lock = threading.Lock()
_settled: set[int] = set()  # the processes (ids) that did it: a forked child does it again


def settle() -> None:
    """Once per process: collect what is garbage now, and set aside everything left."""
    pid = os.getpid()
    if pid in _settled:
        return
    with _lock:
        if pid in _settled:
            return
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG, *gc.get_threshold()[1:])
        _settled.add(pid)
