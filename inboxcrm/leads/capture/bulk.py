"""What capture's set-based statements share: rows go in and change through Core, a batch
at a time, without per-row ORM work; objects the session already loaded are told."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session


def core_table(model: type[Any]) -> Table:
    """The Core table of a model: bulk rows go through Core, without per-row ORM work."""
    return cast(Table, model.__table__)


def update_by_id(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    values: Mapping[str, str],
) -> None:
    """One UPDATE of many rows of `model`: each of `rows` names its row by `"row"` and holds
    the new values under the keys `values` gives per column (a key may not be a column's
    name). Objects the session loaded read the new values."""
    table = core_table(model)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("row"))
        .values({column: bindparam(key) for column, key in values.items()}),
        rows,
    )
    _expire(session, model, (r["row"] for r in rows), list(values))


def _expire(session: Session, model: type[Any], ids: Iterable[int], fields: list[str]) -> None:
    """Bulk statements bypass loaded objects: let those read the new values."""
    for row_id in ids:
        loaded = session.identity_map.get(Session.identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded, fields)
