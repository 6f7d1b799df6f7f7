"""SQLAlchemy 2 engine and sessions, the naming convention, the UTC datetime type, the
clock's zero (`EPOCH`, for a time not known yet or to sort before any other) and ids a
chunk at a time for IN lists."""

from __future__ import annotations

import datetime as dt
import enum
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    ForeignKey,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class InWorkspace:
    """A row that belongs to exactly one workspace: the only kind a Scope queries."""

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))


def enum_column(kind: type[enum.StrEnum]) -> Enum:
    """Store an enum as its plain string value (portable; no native ENUM to migrate)."""
    return Enum(kind, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


IN_LIST = 500  # values per IN list: well inside SQLite's and PostgreSQL's parameter limits
_T = TypeVar("_T")


def chunks(values: Iterable[_T], size: int = IN_LIST) -> Iterator[list[_T]]:
    """`values` in lists of at most `size`, in order: one query per list."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def driver_rows(session: Session, statement: Executable) -> list[Any]:
    """A SELECT's rows as the driver returns them, without SQLAlchemy's conversion of each
    value: for reads of a million rows, where that conversion is most of the cost. On
    SQLite datetimes and JSON come as text: read them with `driver_time` and
    `driver_json`. Flushes first, as a session's own queries do."""
    session.flush()
    result = session.connection().execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def driver_time(value: Any) -> dt.datetime:
    """A stored datetime as the driver returned it (text on SQLite), in UTC."""
    if isinstance(value, str):
        try:  # read with its zone: setting it after (`replace`) costs eight times the parse
            return dt.datetime.fromisoformat(value + "+00:00")
        except ValueError:  # a text with a zone of its own
            return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def driver_insert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: str | None = None,
) -> None:
    """Insert rows of values already in the driver's form (as `driver_rows` returned them,
    or made by `driver_value`): one executemany, no conversion per value. With `key`, a
    row whose key is taken replaces that row's other columns (`ON CONFLICT ... DO
    UPDATE`, on SQLite and PostgreSQL alike)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote  # `references` is a keyword
    names = {name: quote(table.c[name].name) for name in columns}  # the table's own
    marks = ", ".join([mark] * len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(names.values())}) VALUES ({marks})"  # noqa: S608
    if key is not None:
        sets = ", ".join(f"{n} = excluded.{n}" for name, n in names.items() if name != key)
        sql += f" ON CONFLICT ({names[key]}) DO UPDATE SET {sets}"
    session.connection().exec_driver_sql(sql, [tuple(r) for r in rows])


def driver_update(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Update rows by id with values already in the driver's form, each row its values
    for `columns` and then its id: one executemany, no conversion per value."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(table.c[name].name)} = {mark}" for name in columns)  # no input
    sql = f"UPDATE {table.name} SET {sets} WHERE id = {mark}"  # noqa: S608
    session.connection().exec_driver_sql(sql, [tuple(r) for r in rows])


def driver_value(session: Session, column: Column[Any]) -> Callable[[Any], Any]:
    """How a value of `column` is given to the driver (a UTC datetime as SQLite's text,
    in the form SQLAlchemy writes it, so stored times compare as text)."""
    return _converter(session, column) or _as_is


def _converter(session: Session, column: Column[Any]) -> Callable[[Any], Any] | None:
    """`driver_value`, or None for a value the driver takes as it is."""
    dialect = session.get_bind().dialect
    convert = column.type.dialect_impl(dialect).bind_processor(dialect)
    if convert is None or dialect.name != "sqlite":
        return convert
    if isinstance(column.type, UTCDateTime):
        return _sqlite_time(convert)
    if isinstance(column.type, JSON):
        return _sqlite_json(convert)
    return convert


def _sqlite_time(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy's text for a UTC datetime on SQLite, made in one step rather than its
    three (a third of a bulk row's cost); anything but a datetime as SQLAlchemy has it."""

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not dt.datetime or value.tzinfo is None:
            return slow(value)  # refuses a naive datetime, as it should
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    return convert


def _sqlite_json(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy's JSON text on SQLite, an empty list or object without the encoder (most
    of a message's JSON values are empty)."""

    def convert(value: Any) -> Any:
        if not value and type(value) in (list, dict):
            return "[]" if type(value) is list else "{}"
        return slow(value)

    return convert


def _as_is(value: Any) -> Any:
    return value


# Rows a batch at a time: thousands of rows go in and change through Core, without per-row
# ORM work, as one plain executemany with their values already in the driver's form:
# SQLAlchemy's processing of each row's parameters cost more than the database's own work.
# What the driver cannot be given as it is (a JSON value on PostgreSQL, a default made by
# SQL) goes through Core as before. Objects the session already loaded are told.


def core_table(model: type[Any]) -> Table:
    """The Core table of a model: bulk rows go through Core, without per-row ORM work."""
    return cast(Table, model.__table__)


def conflict_insert(session: Session, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into the model's table that can say what a conflict does
    (`on_conflict_do_nothing`, `on_conflict_do_update`): each dialect has its own."""
    table = core_table(model)
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
    convert = _converters(session, columns)
    # A callable default is made per row, as Core makes it (`utcnow` and the like).
    fixed = [d.arg for d in defaults.values()]
    per_row = not all(d.is_scalar for d in defaults.values())

    def values(row: Mapping[str, Any]) -> list[Any]:
        made = (
            [d.arg if d.is_scalar else d.arg(None) for d in defaults.values()] if per_row else fixed
        )
        return _converted([*[row[k] for k in given], *made], convert)

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
        keys = [*values.values(), "row"]
        convert = _converters(session, columns)
        changed = [_converted([r[k] for k in keys], convert) for r in rows]
        driver_update(session, table, list(values), changed)
    _expire(session, model, (r["row"] for r in rows), list(values))


def _converters(
    session: Session, columns: Sequence[Column[Any]]
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, converter) of the columns whose values the driver cannot take as they are:
    only those are converted, in place (`_converted`)."""
    return [(i, c) for i, c in enumerate(_converter(session, col) for col in columns) if c]


def _converted(raw: list[Any], convert: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    for i, c in convert:
        raw[i] = c(raw[i])
    return raw


def _expire(session: Session, model: type[Any], ids: Iterable[int], fields: list[str]) -> None:
    """Bulk statements bypass loaded objects: let those read the new values."""
    for row_id in ids:
        loaded = session.identity_map.get(Session.identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded, fields)


def driver_member(session: Session, column: Any, key: str) -> ColumnElement[Any]:
    """A member of a JSON object column as a plain value from the driver (None when
    missing): SQLite's json_extract gives numbers and text as SQL values (true as 1, as
    Python's True == 1), PostgreSQL's driver decodes the JSON."""
    if session.get_bind().dialect.name == "sqlite":
        return func.json_extract(column, f'$."{key}"')
    return cast(ColumnElement[Any], column[key])


def private_dir(path: Path) -> Path:
    """A folder only its owner can enter (0700): the instance folder holds the database and
    the demo's keys. An existing folder loses its group and other permissions."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)
    return path


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (it would use the umask,
    usually 0644), and tighten an existing one with its -wal, -shm and -journal files;
    SQLite gives the side files it creates later the database file's permissions. Nothing
    happens for other databases, in-memory ones, or a folder that does not exist (SQLite
    then fails to open it, as it should)."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # never truncates
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        if candidate.exists() and stat.S_IMODE(candidate.stat().st_mode) & 0o077:
            candidate.chmod(0o600)


# SQLite's page cache per connection, in KiB (its default is 2 MiB): a sync batch changes
# a few hundred leads spread over the lead table and its indexes, and with the default most
# of those pages are read again from the OS at each change (benchmarks/scoring.py: a
# tenth of the scoring step). Taken as pages are read, so a small database stays small.
SQLITE_CACHE_KIB = 65536


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        # The demo writes from several threads: WAL lets readers go on, the timeout queues writers.
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        return engine
    # The pre-ping stays: a request takes one connection, so it costs one round trip of an
    # empty query (";", no parse, no plan), about 0.05 ms on a page of 5 ms or more, and in
    # return no request fails on a connection the server or a proxy closed meanwhile.
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One engine and its session factory; Flask keeps one on `app.extensions`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work for jobs and the CLI: commit on success, roll back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
