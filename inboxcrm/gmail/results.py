"""What the Gmail calls answer, folded into plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    ids: list[str]
    next_page_token: str | None
    result_size_estimate: int = 0


@dataclass(frozen=True)
class Modified:
    """threads.modify answers by thread id, and the threads Gmail refused (e.g. 400 for a
    label deleted meanwhile, 404 for a thread gone), with why."""

    threads: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    messages: dict[str, Any]  # id -> Gmail message resource
    vanished: list[str]  # 404: deleted between list and get
    failed: dict[str, str] = field(default_factory=dict)  # other refusals (e.g. 400), by id
