"""An import from upload to undo: the file stored with a guessed mapping, the mapping
changed, the dry run (counts and refused rows), the run and the undo (queued for the
clock, or worked at once by the CLI), a batch per transaction."""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import Callable, Iterator
from itertools import islice

from sqlalchemy import func, select

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.db import Database, utcnow
from inboxcrm.errors import Conflict
from inboxcrm.exchange import run
from inboxcrm.exchange.csvfile import Table, read_table
from inboxcrm.exchange.mapping import check, guess
from inboxcrm.exchange.models import ImportedLead, ImportState, LeadImport
from inboxcrm.exchange.plan import Directory, Planned, plan
from inboxcrm.exchange.rows import Refused, Row, read_row
from inboxcrm.tenancy import Scope

BATCH = 1_000  # rows per transaction
LEASE = dt.timedelta(minutes=5)  # a clock that dies mid-import frees it then
MAX_LISTED = 10_000  # refused rows kept with their reasons; past that, only counted
Progress = Callable[[int, int], None]


def upload(scope: Scope, actor: Member, filename: str, data: bytes, now: dt.datetime) -> LeadImport:
    """Store a file (Invalid if it is no CSV of leads) with the mapping guessed."""
    require_admin(actor, "import leads")
    table = read_table(data)
    imp = LeadImport(
        workspace_id=scope.workspace_id,
        member_id=actor.id,
        filename=(filename or "leads.csv")[:200],
        data=zlib.compress(table.text.encode(), 1),
        delimiter=table.delimiter,
        header=table.header,
        mapping=guess(table.header),
        state=ImportState.mapping,
        created_at=now,
        refusals=[],
        companies=[],
    )
    scope.session.add(imp)
    scope.session.flush()
    return imp


def table_of(imp: LeadImport) -> Table:
    return Table(imp.header, imp.delimiter, zlib.decompress(imp.data).decode())


def samples(imp: LeadImport, count: int = 3) -> list[list[str]]:
    """The first rows' cells, for the mapping page."""
    return [cells for _, cells in islice(table_of(imp).rows(), count)]


def _editable(imp: LeadImport) -> None:
    if imp.state not in (ImportState.mapping, ImportState.planned):
        raise Conflict(f"this import is {imp.state.value}: its mapping can no longer change")


def set_mapping(imp: LeadImport, actor: Member, fields: list[str]) -> None:
    require_admin(actor, "import leads")
    _editable(imp)
    imp.mapping = check(imp.header, fields)
    imp.state = ImportState.mapping


def _read(imp: LeadImport, skip: int = 0) -> Iterator[list[Row | Refused]]:
    """The file's rows, read as leads, a batch at a time, after the first `skip`."""
    rows = islice(table_of(imp).rows(), skip, None)
    while batch := list(islice(rows, BATCH)):
        yield [read_row(n, cells, imp.header, imp.mapping) for n, cells in batch]


def _refuse(imp: LeadImport, refused: list[Refused]) -> None:
    if not refused:
        return
    imp.refused += len(refused)
    room = MAX_LISTED - len(imp.refusals)
    if room > 0:
        imp.refusals = [
            *imp.refusals,
            *({"row": r.number, "reason": r.reason, "email": r.email} for r in refused[:room]),
        ]


def dry_run(scope: Scope, imp: LeadImport, actor: Member) -> LeadImport:
    """Count what the import would do, and list the rows it would refuse, changing nothing."""
    require_admin(actor, "import leads")
    _editable(imp)
    imp.mapping = check(imp.header, imp.mapping)
    directory = Directory.load(scope.session, imp.workspace_id)
    seen: dict[str, int] = {}
    imp.rows = imp.created = imp.updated = imp.merged = imp.refused = 0
    imp.refusals = []
    for batch in _read(imp):
        planned = plan(scope.session, imp.workspace_id, directory, batch, seen)
        imp.rows += len(batch)
        _refuse(imp, [p for p in planned if isinstance(p, Refused)])
        for p in planned:
            if isinstance(p, Planned):
                setattr(imp, p.kind.value, getattr(imp, p.kind.value) + 1)
    imp.state = ImportState.planned
    scope.session.flush()
    return imp


def start(imp: LeadImport, actor: Member, now: dt.datetime) -> None:
    """Queue a planned import for the clock."""
    require_admin(actor, "import leads")
    if imp.state is not ImportState.planned:
        raise Conflict("run the dry run first: an import starts from its plan")
    imp.state, imp.run_at, imp.done = ImportState.queued, now, 0


def start_undo(imp: LeadImport, actor: Member, now: dt.datetime) -> None:
    require_admin(actor, "undo an import")
    if imp.state not in (
        ImportState.done,
        ImportState.failed,
        ImportState.running,
        ImportState.queued,
    ):
        raise Conflict(f"this import is {imp.state.value}: there is nothing to undo")
    imp.state, imp.run_at, imp.done = ImportState.undoing, now, 0


def work(
    database: Database,
    import_id: int,
    now: dt.datetime,
    *,
    seconds: float | None = None,
    progress: Progress | None = None,
) -> bool:
    """Run or undo an import from where it stands, a batch per transaction, for
    `seconds` (None: to the end); True when it is finished."""
    with database.session() as session:
        imp = session.get_one(LeadImport, import_id)
        state = imp.state
        if state is ImportState.queued:
            # The dry run's counts were a forecast: the run counts what it does.
            refused = [r["row"] for r in imp.refusals]
            imp.state, imp.created, imp.updated, imp.merged = ImportState.running, 0, 0, 0
            imp.refusals, imp.refused = [{**r, "planned": True} for r in imp.refusals], len(refused)
            state = ImportState.running
    if state is ImportState.running:
        return _run(database, import_id, now, seconds, progress)
    if state is ImportState.undoing:
        return _undo(database, import_id, now, seconds, progress)
    return True


def _run(
    database: Database,
    import_id: int,
    now: dt.datetime,
    seconds: float | None,
    progress: Progress | None,
) -> bool:
    deadline = None if seconds is None else time.monotonic() + seconds
    with database.session() as session:
        imp = session.get_one(LeadImport, import_id)
        skip, total = imp.done, imp.rows
        planned_refusals = {r["row"] for r in imp.refusals if r.get("planned")}
        directory = Directory.load(session, imp.workspace_id)
        batches = _read(imp, skip)
    for batch in batches:
        with database.session() as session:
            imp = session.get_one(LeadImport, import_id)
            if imp.state is not ImportState.running:
                return True  # undone meanwhile
            rows = [r for r in batch if r.number not in planned_refusals]
            planned = plan(session, imp.workspace_id, directory, rows, {})
            fresh = [
                p for p in planned if isinstance(p, Refused) and p.number not in planned_refusals
            ]
            _refuse(imp, fresh)
            run.apply(
                session,
                imp,
                [p for p in planned if isinstance(p, Planned)],
                directory.entry_stage_id,
                now,
            )
            imp.done += len(batch)
            imp.run_at = utcnow() + LEASE
            done = imp.done
        if progress:
            progress(done, total)
        if deadline is not None and time.monotonic() > deadline:
            return False
    with database.session() as session:
        imp = session.get_one(LeadImport, import_id)
        if imp.state is ImportState.running:
            imp.state, imp.run_at, imp.finished_at = ImportState.done, None, now
    return True


def _undo(
    database: Database,
    import_id: int,
    now: dt.datetime,
    seconds: float | None,
    progress: Progress | None,
) -> bool:
    deadline = None if seconds is None else time.monotonic() + seconds
    with database.session() as session:
        total = (
            session.scalar(
                select(func.count())
                .select_from(ImportedLead)
                .where(ImportedLead.import_id == import_id)
            )
            or 0
        )
        imp = session.get_one(LeadImport, import_id)
        total += imp.done
    while True:
        with database.session() as session:
            imp = session.get_one(LeadImport, import_id)
            journal = list(
                session.scalars(
                    select(ImportedLead)
                    .where(ImportedLead.import_id == import_id)
                    .order_by(ImportedLead.id)
                    .limit(BATCH)
                )
            )
            if not journal:
                run.drop_empty_companies(session, imp)
                imp.state, imp.run_at, imp.finished_at = ImportState.undone, None, now
                imp.companies = []
                return True
            run.undo(session, imp, journal, now)
            imp.done += len(journal)
            imp.run_at = utcnow() + LEASE
            done = imp.done
        if progress:
            progress(done, max(total, done))
        if deadline is not None and time.monotonic() > deadline:
            return False


def summary(imp: LeadImport) -> str:
    def n(count: int, word: str) -> str:
        return f"{count:,} {word}"

    parts = [
        n(imp.created, "created"),
        n(imp.updated, "updated"),
        n(imp.merged, "merged by an existing address"),
        n(imp.refused, "refused"),
    ]
    return ", ".join(parts)
