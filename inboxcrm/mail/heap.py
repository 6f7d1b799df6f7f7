"""The collector's view of a process that syncs mail: what the process held before its
first sizeable batch (modules, mappers, compiled statements, the app) is set aside once,
so the full collections a sync's allocations set off walk only the sync's own objects.

Without it, each of those collections walks every object the process has (about 200,000
once the app is imported, some 100 ms a walk on a loaded machine), and a full sync set one
off every few hundred messages: a fifth of the sync's CPU. Objects set aside are still
freed when nothing refers to them; only a cycle of them that dies later is never found,
and those are few: the process's long-lived state.
"""

from __future__ import annotations

import gc
import os
import threading

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
        _settled.add(pid)
