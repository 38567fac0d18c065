"""The PostgreSQL store: one row per dead letter; a claim is one conditional UPDATE.

`UPDATE ... SET replayed_at = now() WHERE replayed_at IS NULL ... RETURNING` takes row locks,
so of two operators replaying at once exactly one gets (and replays) each dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from publisher.deadletters.store import StoredDeadLetter, decode_record, encode_letters
from publisher.engine.deadletter import DeadLetter
from publisher.inputs.pg_schema import create_once

CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    seq bigserial PRIMARY KEY,
    dead_letter_id text NOT NULL UNIQUE,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    record bytea NOT NULL,
    replayed_at timestamptz
)
"""


class PostgresDeadLetterStore:
    def __init__(self, dsn: str, table: str) -> None:
        self.dsn = dsn
        self.table = table
        self._ident = sql.Identifier(table)
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    @property
    def describe(self) -> str:
        return f"postgres table {self.table}"

    @property
    def conn(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None:
            raise RuntimeError("dead-letter store is not started")
        return self._conn

    async def start(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        try:
            await create_once(self.conn, sql.SQL(CREATE).format(table=self._ident), self.table)
        except BaseException:
            await self.close()
            raise

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        rows = [(str(record["dead_letter_id"]), data) for record, data in encode_letters(letters)]
        query = sql.SQL("INSERT INTO {} (dead_letter_id, record) VALUES (%s, %s)").format(
            self._ident
        )
        async with self.conn.transaction(), self.conn.cursor() as cursor:
            await cursor.executemany(query, rows)

    async def records(self) -> list[StoredDeadLetter]:
        query = sql.SQL("SELECT record, replayed_at IS NOT NULL FROM {} ORDER BY seq").format(
            self._ident
        )
        cursor = await self.conn.execute(query)
        stored = []
        for data, replayed in await cursor.fetchall():
            record = decode_record(bytes(data)) if isinstance(data, bytes | memoryview) else None
            if record is not None:
                stored.append(StoredDeadLetter(record, bool(replayed)))
        return stored

    async def claim(self, dead_letter_ids: Sequence[str]) -> list[str]:
        query = sql.SQL(
            "UPDATE {} SET replayed_at = now() WHERE dead_letter_id = ANY(%s)"
            " AND replayed_at IS NULL RETURNING dead_letter_id"
        ).format(self._ident)
        cursor = await self.conn.execute(query, (list(dead_letter_ids),))
        marked = {str(row[0]) for row in await cursor.fetchall()}
        return [i for i in dict.fromkeys(dead_letter_ids) if i in marked]

    async def unclaim(self, dead_letter_ids: Sequence[str]) -> None:
        query = sql.SQL("UPDATE {} SET replayed_at = NULL WHERE dead_letter_id = ANY(%s)").format(
            self._ident
        )
        await self.conn.execute(query, (list(dead_letter_ids),))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
