"""Pickling the parse pool's frozen dataclasses by their fields, in order.

A frozen dataclass with slots pickles through the state methods `dataclasses` generates:
a dict of every field built when pickled and each set again by `object.__setattr__` when
unpickled. The pool sends every parsed message back that way, so the sync's process paid
for it on every message. Rebuilding through `__init__` from a tuple of the fields halves
both sides (measured in `benchmarks/parse.py`: `pool_return_us_per_msg`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def by_fields(cls: type) -> type:
    """Class decorator: instances pickle as `cls(*their fields)`."""
    names = tuple(f.name for f in fields(cls))

    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, tuple([getattr(self, n) for n in names])

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010 (mypy types __reduce__ narrowly)
    return cls
