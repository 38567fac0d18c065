"""The SQL of the PostgreSQL outbox: its DDL (`outbox install`) and the statements the input runs.

The table holds only events not yet published: a claim sets `visible_at` into the future (the
lease) and names the claiming replica in `leased_by`; an ack deletes the row. A row is claimable
when `visible_at` has passed, so a replica that dies holding rows loses them when its lease ends.
Rows are claimed in the order they became claimable: an inserted row at its insert time, a
released one when its delay ends, one whose lease ran out when it ran out. So a crashed
replica's rows are not queued behind everything inserted since.

Names are checked against settings.OUTBOX_TABLE_PATTERN (lower-case unquoted identifiers), so
they are written into the statements as they are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutboxSql:
    """Every statement for one outbox table."""

    table: str

    @property
    def _base(self) -> str:
        """The table name without its schema, the stem of its index, function and trigger."""
        return self.table.rpartition(".")[2]

    @property
    def _schema_prefix(self) -> str:
        schema = self.table.rpartition(".")[0]
        return f"{schema}." if schema else ""

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel: the table name as written in the config."""
        return self.table

    def ddl(self) -> str:
        """Idempotent: every statement can run again on an installed table."""
        table, base, prefix = self.table, self._base, self._schema_prefix
        return f"""\
-- partner-publisher outbox: the application inserts events, the daemon claims and deletes them.
CREATE TABLE IF NOT EXISTS {table} (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    visible_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deliveries  integer     NOT NULL DEFAULT 0,
    leased_by   text
) WITH (
    -- Published rows are deleted: vacuum after a few thousand dead rows, whatever the size.
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 5000
);
CREATE INDEX IF NOT EXISTS {base}_visible_idx ON {table} (visible_at, id);
-- One notification per inserting statement, sent by PostgreSQL only when it commits.
CREATE OR REPLACE FUNCTION {prefix}{base}_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{self.channel}', '');
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER {base}_notify
    AFTER INSERT ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}{base}_notify();
"""

    @property
    def install_lock(self) -> str:
        """Serialises concurrent installs (CREATE ... IF NOT EXISTS can race)."""
        return f"SELECT pg_advisory_xact_lock(hashtext('partner-publisher:{self.table}'))"

    @property
    def claim(self) -> str:
        """Params: limit, lease seconds, replica. Rows another transaction holds are skipped."""
        return f"""
WITH due AS (
    SELECT id FROM {self.table}
    WHERE visible_at <= clock_timestamp()
    ORDER BY visible_at, id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
UPDATE {self.table} AS outbox
SET visible_at = clock_timestamp() + make_interval(secs => %s),
    deliveries = outbox.deliveries + 1,
    leased_by = %s
FROM due WHERE outbox.id = due.id
RETURNING outbox.id, outbox.event::text, extract(epoch FROM outbox.created_at),
          outbox.deliveries
"""

    @property
    def extend(self) -> str:
        """Params: lease seconds, ids, replica. Only leases this replica still holds."""
        return f"""
UPDATE {self.table}
SET visible_at = clock_timestamp() + make_interval(secs => %s)
WHERE id = ANY(%s) AND leased_by = %s AND visible_at > clock_timestamp()
"""

    @property
    def release(self) -> str:
        """Params: delay seconds, ids, replica."""
        return f"""
UPDATE {self.table}
SET visible_at = clock_timestamp() + make_interval(secs => %s), leased_by = NULL
WHERE id = ANY(%s) AND leased_by = %s
"""

    @property
    def delete(self) -> str:
        """Params: ids. A published row goes, whoever holds its lease now."""
        return f"DELETE FROM {self.table} WHERE id = ANY(%s)"

    @property
    def put(self) -> str:
        """Params: bodies (text[]), limit or NULL. Inserts all of them, or none over the limit."""
        return f"""
INSERT INTO {self.table} (event)
SELECT body::jsonb FROM unnest(%s::text[]) WITH ORDINALITY AS put(body, n)
WHERE %s::bigint IS NULL
   OR (SELECT count(*) FROM {self.table}) + cardinality(%s::text[]) <= %s::bigint
ORDER BY n
"""

    @property
    def count(self) -> str:
        return f"SELECT count(*) FROM {self.table}"

    @property
    def vacuum(self) -> str:
        """Skips the table rather than wait when another VACUUM (a replica's) holds it."""
        return f"VACUUM (SKIP_LOCKED) {self.table}"

    @property
    def autovacuum_off(self) -> str:
        """True when dead rows would pile up: autovacuum off for the server or the table."""
        return f"""
SELECT current_setting('autovacuum') <> 'on'
    OR coalesce('autovacuum_enabled=false' = ANY(reloptions), false)
FROM pg_class WHERE oid = '{self.table}'::regclass
"""

    @property
    def listen(self) -> str:
        return f'LISTEN "{self.channel}"'
