"""PostgreSQL outbox input: the application inserts events in its own transactions, replicas
claim committed rows with leases and delete them once settled.

How the Input protocol maps onto the table (statements in outbox_sql):

- fetch: one UPDATE claims up to `batch_size` due rows (`visible_at` passed) chosen with
  FOR UPDATE SKIP LOCKED, so replicas sharing a table never claim the same row at the same time;
  it moves their `visible_at` one visibility timeout ahead (the lease), counts the delivery and
  names this replica in `leased_by`. Only committed rows are visible to it, so a rolled-back
  transaction's events are never seen. With nothing due it waits for a notification (the
  table's trigger NOTIFYs on every insert, delivered at commit) or `poll_interval_s`, whichever
  comes first: polling covers a lost listener connection and leases that ran out.
- extend / release: move `visible_at` of the rows this replica still holds; a row another
  replica took over after our lease ended is left to it. release(delay_s) is exact.
- ack: DELETE. The table holds only unsettled events (see README for VACUUM).
- backlog: count(*) of the table (leased rows included).

Every connection failure surfaces as InputUnavailable; the next call reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
import psycopg
import psycopg.errors
import structlog

from publisher.core.backoff import Doubling
from publisher.core.message import Message
from publisher.errors import InputFull, InputUnavailable
from publisher.inputs.base import Deadline, renew_interval_s
from publisher.inputs.coalesce import ACK_INTERVAL_S, Coalescer
from publisher.inputs.outbox_sql import OutboxSql
from publisher.settings import PostgresInputSettings, redact_url

log = structlog.get_logger(__name__)

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5
LISTEN_RETRY = Doubling(first_s=0.2, max_s=5.0)
# Connection trouble: the server went away, refused us, or the connection was closed under us.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, OSError)


async def connect(settings: PostgresInputSettings, *, autocommit: bool) -> psycopg.AsyncConnection:
    """A connection for the outbox; the password file, when set, overrides the dsn's password."""
    extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if settings.password_file is not None:
        password = await asyncio.to_thread(settings.password_file.read_text, encoding="utf-8")
        extra["password"] = password.strip()
    return await psycopg.AsyncConnection.connect(
        settings.dsn.get_secret_value(), autocommit=autocommit, **extra
    )


class PostgresOutboxInput:
    """Implements the Input protocol over an outbox table (see `outbox install`)."""

    def __init__(self, settings: PostgresInputSettings, *, consumer: bool = True) -> None:
        self._settings = settings
        self._consumer = consumer
        self._sql = OutboxSql(settings.table)
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._conn: psycopg.AsyncConnection | None = None
        self._notified = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._vacuum: asyncio.Task[None] | None = None
        self._acks: Coalescer[int] = Coalescer(self._delete, ACK_INTERVAL_S)
        self._where = f"postgres outbox {settings.table}"
        self._closed = False

    @property
    def lease_renew_s(self) -> float:
        return renew_interval_s(self._settings.visibility_timeout_s)

    async def start(self) -> None:
        """Connect and, when consuming, listen for inserts; PostgreSQL being down is not fatal."""
        try:
            await self._run(lambda conn: conn.execute("SELECT 1"))
        except InputUnavailable as exc:
            log.warning("postgres_unavailable_at_start", error=str(exc))
        if self._consumer:
            self._listener = asyncio.create_task(self._listen(), name="outbox-listener")
            await self._check_vacuuming()
            if (interval_s := self._settings.vacuum_interval_s) is not None:
                vacuum = self._vacuum_regularly(interval_s)
                self._vacuum = asyncio.create_task(vacuum, name="outbox-vacuum")
        log.info("postgres_input_started", table=self._settings.table, replica=self.replica)

    async def close(self) -> None:
        """Disconnect; rows leased to this replica are claimable when their lease ends."""
        await self._acks.drain()
        self._closed = True
        tasks = [task for task in (self._listener, self._vacuum) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listener = self._vacuum = None
        await self._disconnect()

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Insert every body in one statement: all of them, or InputFull over max_events."""
        if not bodies:
            return
        texts = [_storable(body) for body in bodies]
        limit = self._settings.max_events
        params = (texts, limit, texts, limit)
        inserted = await self._run(lambda conn: _rowcount(conn, self._sql.put, params))
        if inserted == 0:
            raise InputFull(f"{self._where} holds {limit} rows or more (input.max_events)")

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Claim due rows; with none, wait for a notification or the poll interval."""
        if max_messages <= 0:
            return []
        deadline = Deadline(wait_s)
        while True:
            self._notified.clear()  # before claiming: an insert committed meanwhile wakes us
            messages = await self._claim(min(max_messages, self._settings.batch_size))
            remaining = deadline.remaining_s()
            if messages or remaining <= 0:
                return messages
            wait = min(remaining, self._settings.poll_interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._notified.wait(), wait)

    async def ack(self, messages: Sequence[Message]) -> None:
        await self._acks.submit([int(message.id) for message in messages])

    async def extend(self, messages: Sequence[Message]) -> None:
        params = (self._settings.visibility_timeout_s, _ids(messages), self.replica)
        await self._run(lambda conn: conn.execute(self._sql.extend, params))

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        params = (max(delay_s, 0.0), _ids(messages), self.replica)
        await self._run(lambda conn: conn.execute(self._sql.release, params))
        if delay_s <= 0:
            self._notified.set()

    async def backlog(self) -> int:
        async def count(conn: psycopg.AsyncConnection) -> int:
            row = await (await conn.execute(self._sql.count)).fetchone()
            return int(row[0]) if row else 0

        return await self._run(count)

    # -- internals -----------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[Message]:
        params = (limit, self._settings.visibility_timeout_s, self.replica)

        async def claim(conn: psycopg.AsyncConnection) -> list[Any]:
            return await (await conn.execute(self._sql.claim, params)).fetchall()

        rows = await self._run(claim)
        rows.sort(key=lambda row: row[0])  # RETURNING's order is the update's, not the id's
        return [Message(str(row[0]), row[1].encode(), float(row[2]), row[3]) for row in rows]

    async def _delete(self, ids: list[int]) -> None:
        await self._run(lambda conn: conn.execute(self._sql.delete, (ids,)))

    async def _listen(self) -> None:
        """Sets `_notified` on every insert notification; reconnects with backoff."""
        delay_s = LISTEN_RETRY.first_s
        while True:
            try:
                conn = await connect(self._settings, autocommit=True)
                try:
                    await conn.execute(self._sql.listen)
                    delay_s = LISTEN_RETRY.first_s
                    self._notified.set()  # inserts made while we were not listening
                    async for _ in conn.notifies():
                        self._notified.set()
                finally:
                    await conn.close()
            except _UNAVAILABLE as exc:
                log.warning("postgres_listen_lost", error=str(exc), retry_in_s=delay_s)
            except Exception:  # polling still delivers; say so loudly and listen again
                log.exception("postgres_listen_failed", retry_in_s=delay_s)
            self._notified.set()
            await asyncio.sleep(delay_s)
            delay_s = LISTEN_RETRY.after(delay_s)

    async def _check_vacuuming(self) -> None:
        """Warn when nothing will reclaim the rows this input deletes (the table would bloat)."""
        if self._settings.vacuum_interval_s is not None:
            return

        async def autovacuum_off(conn: psycopg.AsyncConnection) -> bool:
            row = await (await conn.execute(self._sql.autovacuum_off)).fetchone()
            return bool(row and row[0])

        try:
            if await self._run(autovacuum_off):
                log.warning(
                    "postgres_autovacuum_off",
                    table=self._settings.table,
                    hint="turn autovacuum on, or set input.vacuum_interval_s",
                )
        except InputUnavailable as exc:
            log.warning("postgres_unavailable_at_start", error=str(exc))

    async def _vacuum_regularly(self, interval_s: float) -> None:
        """VACUUM on its own connection, so claims and acks do not wait behind it."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                conn = await connect(self._settings, autocommit=True)
                try:
                    await conn.execute(self._sql.vacuum)
                finally:
                    await conn.close()
                log.info("postgres_outbox_vacuumed", table=self._settings.table)
            except (psycopg.Error, OSError) as exc:  # not the owner, server away: say so
                log.warning("postgres_vacuum_failed", table=self._settings.table, error=str(exc))

    async def _run(self, operation: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        if self._closed:
            raise InputUnavailable(f"{self._where}: the input is closed")
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await connect(self._settings, autocommit=True)
            return await operation(self._conn)
        except psycopg.errors.UndefinedTable:
            raise InputUnavailable(
                f"{self._where} does not exist: run `partner-publisher outbox install`"
            ) from None
        except _UNAVAILABLE as exc:
            await self._disconnect()
            url = redact_url(self._settings.dsn.get_secret_value())
            raise InputUnavailable(f"{self._where} at {url}: {exc}") from None

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


async def _rowcount(conn: psycopg.AsyncConnection, statement: str, params: Any) -> int:
    return (await conn.execute(statement, params)).rowcount


def _ids(messages: Sequence[Message]) -> list[int]:
    return [int(message.id) for message in messages]


def _storable(body: bytes) -> str:
    """The body as jsonb accepts it. A body that is not JSON, or holds \\u0000 (which jsonb
    refuses), is stored as a JSON string of its text, which the daemon then dead-letters as not
    an event object: enqueue stores whatever it is given, and nothing is lost silently."""
    try:
        orjson.loads(body)
        text = body.decode()
        if "\\u0000" not in text:
            return text
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        pass
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return orjson.dumps(text).decode()
