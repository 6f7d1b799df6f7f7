"""What capture's set-based statements share: rows go in and change through Core, a batch
at a time, without per-row ORM work (`inboxcrm.db`, where the mail store uses them too)."""

from inboxcrm.db import core_table, insert_rows, update_by_id

__all__ = ["core_table", "insert_rows", "update_by_id"]
