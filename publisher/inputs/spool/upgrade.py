"""What a spool file written by an earlier version lacks, and how it gets it on opening."""

from __future__ import annotations

import sqlite3

import structlog

log = structlog.get_logger(__name__)

# Each tenant's rows are read on their own (fair reads): an index by (tenant, id), and a count
# per tenant updated in the same transaction as the rows (one statement per tenant, not a
# trigger per row: triggers cost a fifth more CPU per put and ack), so that the consumer finds
# the tenants with rows without a scan. Rows whose tenant is not known (not valid JSON, or
# written by an earlier version, which keeps no count) have the tenant '', a lane the consumer
# also reads whenever another process has put rows.
_TENANT_SCHEMA = """
CREATE INDEX IF NOT EXISTS messages_by_tenant ON messages (tenant, id);
CREATE TABLE IF NOT EXISTS tenant_backlog (
    tenant TEXT PRIMARY KEY,
    events INTEGER NOT NULL
) WITHOUT ROWID;
"""
COUNT_TENANTS = """
INSERT INTO tenant_backlog (tenant, events) SELECT tenant, count(*) FROM messages GROUP BY tenant;
"""
# A file from before fair reads: its rows get their tenant from their JSON, once.
_ADD_TENANT_COLUMN = """
ALTER TABLE messages ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
UPDATE messages SET tenant = coalesce(json_extract(CAST(body AS TEXT), '$.tenant'), '')
    WHERE json_valid(CAST(body AS TEXT));
"""


def add_tenants(conn: sqlite3.Connection) -> None:
    """Give a file the tenant column, index and counts if it lacks them."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)").fetchall()}
    adding = "tenant" not in columns
    # Backfilled before the index exists: one pass over the rows, no index churn.
    script = (
        (_ADD_TENANT_COLUMN if adding else "") + _TENANT_SCHEMA + (COUNT_TENANTS if adding else "")
    )
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if adding:
        log.info("spool_tenants_added")


def visible_at_without_default(conn: sqlite3.Connection) -> bool:
    """Whether the file was created by a version that wrote `visible_at` on every put."""
    for _, name, _, _, default, _ in conn.execute("PRAGMA table_info(messages)").fetchall():
        if name == "visible_at":
            return default is None
    return False
