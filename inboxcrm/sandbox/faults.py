"""Injected faults for the next N matching requests: error storms, slowness, drops.

A fault with `after` set applies the call first and then fails its answer: the call took
effect (a message sent, a draft created) but the client sees a dropped connection or a
5xx, as Gmail has been seen to do (google-api-python-client #1474)."""

import re
import threading
from dataclasses import dataclass
from typing import Any

from inboxcrm.sandbox.errors import ApiError

KINDS = ("error", "slow", "drop")


@dataclass
class Fault:
    kind: str  # error: answer `status`; slow: wait `delay` seconds first; drop: close socket
    count: int
    status: int = 503
    reason: str | None = None
    message: str | None = None
    delay: float = 0.0
    operation: str | None = None  # e.g. "messages.get"; None matches every call
    path: str | None = None  # regular expression searched in the request path
    user: str | None = None
    # Apply the call, then answer with the fault: a drop or an error loses the answer, a
    # slow one answers late (a client killed meanwhile never hears of it).
    after: bool = False

    def matches(self, operation: str, path: str, user: str | None) -> bool:
        return (
            (self.operation is None or self.operation == operation)
            and (self.path is None or re.search(self.path, path) is not None)
            and (self.user is None or self.user == user)
        )

    def error(self) -> ApiError:
        defaults = {
            429: "Resource has been exhausted (e.g. check quota).",
            403: "User Rate Limit Exceeded",
            500: "Backend Error",
            503: "The service is currently unavailable.",
        }
        message = self.message or defaults.get(self.status, "Backend Error")
        domain = "usageLimits" if self.status in (403, 429) else "global"
        return ApiError(self.status, message, reason=self.reason, domain=domain)


def parse_fault(data: dict[str, Any]) -> Fault:
    kind = data.get("kind", "error")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    fields = {k: data[k] for k in Fault.__dataclass_fields__ if k in data and k != "kind"}
    return Fault(kind=kind, **{"count": 1, **fields})


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str, path: str, user: str | None) -> Fault | None:
        """The first armed fault matching this request, consuming one of its uses."""
        if not self._faults:  # fast path; a stale read only delays a fault by one call
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(operation, path, user):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [vars(f).copy() for f in self._faults]
