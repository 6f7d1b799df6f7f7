"""What capture's set-based statements share: rows go in and change through Core, a batch
at a time, without per-row ORM work; objects the session already loaded are told.

A batch's thousands of rows go to the driver as one plain executemany with their values
already in its form: SQLAlchemy's processing of each row's parameters cost more than the
database's own work. What the driver cannot be given as it is (a JSON value on
PostgreSQL, a default made by SQL) goes through Core as before."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import JSON, Column, Table, bindparam, insert, update
from sqlalchemy.orm import Session

from inboxcrm.db import driver_insert, driver_update, driver_value


def core_table(model: type[Any]) -> Table:
    """The Core table of a model: bulk rows go through Core, without per-row ORM work."""
    return cast(Table, model.__table__)


def _plain(session: Session, columns: Iterable[Column[Any]]) -> bool:
    """The driver takes these columns' values as `driver_value` makes them."""
    if session.get_bind().dialect.name == "sqlite":  # JSON is text there
        return True
    return not any(isinstance(c.type, JSON) for c in columns)


def insert_rows(session: Session, model: type[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows of `model` (each with the same keys) as Core would, defaults included,
    in one plain executemany."""
    if not rows:
        return
    table = core_table(model)
    given = list(rows[0])
    left = [c for c in table.c if c.key not in given and not c.primary_key]
    defaults: dict[str, Any] = {c.key: c.default for c in left if c.default is not None}
    columns = [table.c[k] for k in [*given, *defaults]]
    made_here = all(d.is_scalar or d.is_callable for d in defaults.values())
    if not (made_here and _plain(session, columns)):
        session.execute(insert(table), rows)
        return
    convert = [driver_value(session, c) for c in columns]

    def values(row: Mapping[str, Any]) -> list[Any]:
        # A callable default is made per row, as Core makes it (`utcnow` and the like).
        made = [d.arg if d.is_scalar else d.arg(None) for d in defaults.values()]
        raw = [*(row[k] for k in given), *made]
        return [c(v) for c, v in zip(convert, raw, strict=True)]

    driver_insert(session, table, [c.key for c in columns], [values(r) for r in rows])


def update_by_id(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    values: Mapping[str, str],
) -> None:
    """One UPDATE of many rows of `model`: each of `rows` names its row by `"row"` and holds
    the new values under the keys `values` gives per column (a key may not be a column's
    name). Objects the session loaded read the new values."""
    if not rows:
        return
    table = core_table(model)
    columns = [table.c[name] for name in values]
    # A column set on every update by SQLAlchemy (`onupdate`) and not given here: Core sets it.
    automatic = any(c.onupdate is not None and c.key not in values for c in table.c)
    if automatic or not _plain(session, columns):
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row"))
            .values({column: bindparam(key) for column, key in values.items()}),
            rows,
        )
    else:
        convert = [driver_value(session, c) for c in columns]
        keys = list(values.values())
        driver_update(
            session,
            table,
            list(values),
            [[c(r[k]) for c, k in zip(convert, keys, strict=True)] + [r["row"]] for r in rows],
        )
    _expire(session, model, (r["row"] for r in rows), list(values))


def _expire(session: Session, model: type[Any], ids: Iterable[int], fields: list[str]) -> None:
    """Bulk statements bypass loaded objects: let those read the new values."""
    for row_id in ids:
        loaded = session.identity_map.get(Session.identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded, fields)
