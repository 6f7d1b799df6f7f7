"""Data in and out at scale: a 100,000-row CSV import (upload, dry run, the run a batch
per transaction), the export of those 100,000 leads (time, and the peak of Python memory
it allocates, by tracemalloc, in a second pass), and webhooks under a failing receiver
with the delivering process killed midway (SIGKILL), counting events never delivered.

Prints one JSON object: `import_100k_s` (target <= 60), `dry_run_s`, `export_100k_s`
(<= 10), `export_peak_mb` (<= 100), `webhook_events`, `webhook_deliveries` (at least
once: more than the events after retries and the kill) and `webhook_lost` (0)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.database

from benchmarks.database import bench_database, dialect
from inboxcrm.accounts.models import Role
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.events import EventType, emit_many
from inboxcrm.exchange import imports
from inboxcrm.exchange.exports import export_csv
from inboxcrm.leads.models import Lead
from inboxcrm.leads.service import LeadFilter
from inboxcrm.tenancy import Scope
from inboxcrm.webhooks.endpoints import create_endpoint
from inboxcrm.webhooks.jobs import drain
from inboxcrm.webhooks.models import DeliveryState, WebhookDelivery

ROWS = 100_000
EVENTS = 400
STAGES = ("Lead", "MQL", "SQL", "lead", "mql")


def _csv(rows: int) -> bytes:
    lines = [
        "First Name,Last Name,Email,Company Name,Job Title,Phone Number,Lifecycle Stage,Tags,Source"
    ]
    for i in range(rows):
        lines.append(
            f"First{i},Last{i},person{i}@company{i % 5000}.example,Company {i % 5000},"
            f"Engineer,+1 555 {i:07d},{STAGES[i % len(STAGES)]},t{i % 20};all,fair {i % 3}"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        env="test",
        instance_dir=tmp,
        database_url=url,
        secret_key="bench-" + "x" * 40,
        token_key=Fernet.generate_key().decode(),
        base_url="http://127.0.0.1:5000",
    )


class _Flaky(BaseHTTPRequestHandler):
    """Answers 500 to the first two tries of every third event, 200 otherwise."""

    seen: dict[str, int] = {}
    lock = threading.Lock()
    # Keep-alive, and no TIME-WAIT on the receiver's port when it closes (linger 0): here
    # a client port reused against one of those hangs its connect.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            tries = self.seen.get(body["id"], 0)
            self.seen[body["id"]] = tries + 1
        ok = int(body["id"].split("_")[-1]) % 3 or tries >= 2
        self.send_response(200 if ok else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # eight senders at once, and the killed one's connections

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the killed sender's connections reset: expected


def _deliver_forever(url: str, tmp: str) -> None:
    """The clock process that gets killed: delivers as fast as it can."""
    database = Database(url)
    settings = _settings(url, Path(tmp))
    while True:
        drain(database, settings, utcnow(), seconds=None)


def _webhooks(database: Database, url: str, tmp: Path, ws: int, admin_id: int) -> dict[str, int]:
    server = _Server(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings = _settings(url, tmp)
    with database.session() as session:
        from inboxcrm.accounts.models import Member

        admin = session.get_one(Member, admin_id)
        create_endpoint(
            Scope(session, ws),
            admin,
            settings,
            hook,
            [t.value for t in EventType if t is not EventType.test],
            "",
            utcnow(),
        )
        leads = list(
            session.scalars(select(Lead.id).where(Lead.workspace_id == ws).limit(EVENTS // 4))
        )
    clock = subprocess.Popen([sys.executable, __file__, "--deliver", url, str(tmp)])
    for i in range(EVENTS // 50):  # events keep coming while the clock delivers
        with database.session() as session:
            emit_many(
                session,
                ws,
                EventType.lead_updated,
                utcnow(),
                [(leads[(i * 50 + j) % len(leads)], {"n": i * 50 + j}) for j in range(50)],
            )
        time.sleep(0.1)
    time.sleep(0.5)
    clock.send_signal(signal.SIGKILL)  # mid-delivery, leases held
    clock.wait()
    at = utcnow()
    for _ in range(48):  # a new clock, later: leases run out, retries come due
        at += dt.timedelta(hours=1)
        drain(database, settings, at, seconds=None)
        with database.session() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.state == DeliveryState.pending)
            )
        if not pending:
            break
    server.shutdown()
    with database.session() as session:
        events = session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0

    delivered = set(_Flaky.seen)
    return {
        "webhook_events": events,
        "webhook_deliveries": sum(_Flaky.seen.values()),
        "webhook_lost": events - len(delivered),
    }


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    data = _csv(rows)
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as url:
        database = Database(url)
        with database.session() as session:
            workspace = create_workspace(session, "Bench", "bench.example")
            admin = add_member(session, workspace, "admin@bench.example", Role.admin, "Admin")
            session.flush()
            ws, admin_id = workspace.id, admin.id
        started = time.monotonic()
        with database.session() as session:
            from inboxcrm.accounts.models import Member

            actor = session.get_one(Member, admin_id)
            imp = imports.upload(Scope(session, ws), actor, "bench.csv", data, utcnow())
            planned = time.monotonic()
            imports.dry_run(Scope(session, ws), imp, actor)
            dry_run_s = time.monotonic() - planned
            imports.start(imp, actor, utcnow())
            import_id = imp.id
        imports.work(database, import_id, utcnow())
        import_s = time.monotonic() - started
        with database.session() as session:
            made = session.scalar(
                select(func.count()).select_from(Lead).where(Lead.workspace_id == ws)
            )
        flt = LeadFilter(sort="name")
        started = time.monotonic()
        with database.session() as session:
            size = sum(len(chunk) for chunk in export_csv(Scope(session, ws), flt))
        export_s = time.monotonic() - started
        tracemalloc.start()
        with database.session() as session:
            for _chunk in export_csv(Scope(session, ws), flt):
                pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        hooks = _webhooks(database, url, Path(tmp), ws, admin_id)
    print(
        json.dumps(
            {
                "database": dialect(),
                "rows": rows,
                "leads_made": made,
                "import_100k_s": round(import_s, 2),
                "dry_run_s": round(dry_run_s, 2),
                "export_100k_s": round(export_s, 2),
                "export_mb": round(size / 2**20, 1),
                "export_peak_mb": round(peak / 2**20, 1),
                **hooks,
            }
        )
    )


if __name__ == "__main__":
    import faulthandler

    faulthandler.dump_traceback_later(float(os.environ.get("BENCH_DUMP_AFTER", "1e9")), exit=True)
    if len(sys.argv) > 1 and sys.argv[1] == "--deliver":
        _deliver_forever(sys.argv[2], sys.argv[3])
    else:
        main()
