"""One behaviour suite for every ledger store: latest state per (tenant, id), expiry, bound."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest
import redis.asyncio
from deadletter_stores import POSTGRES_DSN
from input_factories import REDIS_URL

from publisher.ledger.entry import DEAD_LETTERED, PENDING, PUBLISHED, LedgerEntry, LedgerRow
from publisher.ledger.memory import MemoryLedger
from publisher.ledger.postgres import PostgresLedger
from publisher.ledger.redis import RedisLedger
from publisher.ledger.sqlite import SqliteLedger
from publisher.ledger.store import LedgerStore

RETENTION_S = 3600.0
MAX_EVENTS = 200
OpenLedger = Callable[..., LedgerStore]


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def open_ledger(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[..., LedgerStore]]:
    """`await open_ledger(retention_s=..., max_events=...)`: a started store on fresh data."""
    name = f"ledger_{uuid.uuid4().hex}"
    opened: list[LedgerStore] = []
    shared: dict[str, MemoryLedger] = {}  # a second open sees the same data, as with the others

    async def open_store(
        retention_s: float = RETENTION_S, max_events: int = MAX_EVENTS
    ) -> LedgerStore:
        store: LedgerStore
        if request.param == "memory":
            store = shared.setdefault("memory", MemoryLedger(retention_s, max_events))
        elif request.param == "sqlite":
            store = SqliteLedger(tmp_path / "ledger.db", retention_s, max_events)
        elif request.param == "redis":
            store = RedisLedger(REDIS_URL, name, retention_s, max_events)
        else:
            store = PostgresLedger(POSTGRES_DSN, name, retention_s, max_events)
        await store.start()
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()
    if request.param == "redis":
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        keys = [key async for key in admin.scan_iter(match=f"{name}:*")]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()
    if request.param == "postgres":
        async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {name}")


def entry(
    event_id: str, state: str = PUBLISHED, tenant: str = "acme", **fields: object
) -> LedgerEntry:
    # Stores keep times to the millisecond.
    now = round(float(fields.pop("written_at", time.time())), 3)  # type: ignore[arg-type]
    values: dict[str, object] = {
        "received_at": now - 2.5,
        "attempts": 1,
        "written_at": now,
        "aws_event_id": f"aws-{event_id}" if state == PUBLISHED else None,
        "settled_at": None if state == PENDING else now - 0.5,
        "reason": "rejected" if state == DEAD_LETTERED else None,
        "dead_letter_id": "d" * 32 if state == DEAD_LETTERED else None,
    }
    values.update(fields)
    return LedgerEntry(event_id, tenant, state, **values)  # type: ignore[arg-type]


def rows(entries: list[LedgerEntry]) -> list[LedgerRow]:
    return [e.row() for e in entries]


async def test_an_entry_is_found_by_id_with_every_field(open_ledger: OpenLedger) -> None:
    store = await open_ledger()
    written = [entry("ord-1"), entry("ord-2", DEAD_LETTERED, attempts=12)]
    await store.write(rows(written))

    reader = await open_ledger()  # another process with the same config
    assert await reader.lookup("ord-1", None, time.time()) == [written[0]]
    assert await reader.lookup("ord-2", "acme", time.time()) == [written[1]]
    assert await reader.lookup("ord-2", "globex", time.time()) == []
    assert await reader.lookup("ord-3", None, time.time()) == []


async def test_one_id_under_two_tenants_is_two_entries(open_ledger: OpenLedger) -> None:
    store = await open_ledger()
    both = [entry("ord-1", tenant="acme"), entry("ord-1", DEAD_LETTERED, "globex")]
    await store.write(rows(both))

    found = await store.lookup("ord-1", None, time.time())

    assert sorted((e.tenant, e.state) for e in found) == [
        ("acme", PUBLISHED),
        ("globex", DEAD_LETTERED),
    ]
    assert [e.tenant for e in await store.lookup("ord-1", "globex", time.time())] == ["globex"]


async def test_settled_replaces_pending_and_pending_never_replaces_settled(
    open_ledger: OpenLedger,
) -> None:
    store = await open_ledger()
    await store.write(rows([entry("a", PENDING), entry("b", PUBLISHED)]))
    await store.write(rows([entry("a", PUBLISHED, attempts=3), entry("b", PENDING)]))

    (a,) = await store.lookup("a", "acme", time.time())
    (b,) = await store.lookup("b", "acme", time.time())
    assert (a.state, a.attempts, a.aws_event_id) == (PUBLISHED, 3, "aws-a")
    assert (b.state, b.aws_event_id) == (PUBLISHED, "aws-b")


async def test_one_batch_naming_a_key_many_times_ends_as_written_one_by_one(
    open_ledger: OpenLedger,
) -> None:
    """A flush can hold an event's pending row and its settlement, or an id sent twice (the
    stores that append rows tell two of one kind apart by written_at, so those differ)."""
    store = await open_ledger()
    now = time.time()
    await store.write(rows([entry("kept", PUBLISHED, attempts=1)]))
    await store.write(
        rows(
            [
                entry("a", PENDING),
                entry("a", PUBLISHED, attempts=2),
                entry("a", PENDING, attempts=3),  # a late pending: never replaces the settled
                entry("b", PENDING, attempts=1, written_at=now - 1),
                entry("b", PENDING, attempts=2, written_at=now),
                entry("c", PUBLISHED, attempts=1, written_at=now - 1),
                entry("c", DEAD_LETTERED, attempts=4, written_at=now),
                entry("kept", PENDING, attempts=5),
                entry("a", PUBLISHED, tenant="globex", attempts=6),
            ]
        )
    )

    def state(event_id: str, tenant: str = "acme") -> tuple[str, int]:
        return found[(event_id, tenant)]

    found = {
        (e.id, e.tenant): (e.state, e.attempts)
        for event_id in ("a", "b", "c", "kept")
        for e in await store.lookup(event_id, None, time.time())
    }
    assert state("a") == (PUBLISHED, 2)
    assert state("a", "globex") == (PUBLISHED, 6)
    assert state("b") == (PENDING, 2)
    assert state("c") == (DEAD_LETTERED, 4)
    assert state("kept") == (PUBLISHED, 1)


async def test_a_batch_of_thousands_is_written_whole(open_ledger: OpenLedger) -> None:
    store = await open_ledger(max_events=20_000)
    await store.write(rows([entry(f"ord-{n}", attempts=n % 7 + 1) for n in range(12_000)]))

    assert await store.count(time.time()) == 12_000
    (last,) = await store.lookup("ord-11999", "acme", time.time())
    assert (last.state, last.attempts, last.aws_event_id) == (PUBLISHED, 2, "aws-ord-11999")


async def test_entries_older_than_the_retention_disappear(open_ledger: OpenLedger) -> None:
    store = await open_ledger(retention_s=60)
    now = time.time()
    await store.write(rows([entry("old", written_at=now - 61), entry("new", written_at=now - 5)]))

    assert await store.lookup("old", None, now) == []
    assert [e.id for e in await store.lookup("new", None, now)] == ["new"]
    await store.expire(now)
    assert await store.lookup("old", None, now) == []
    # ...and the kept one too, once it is past the retention.
    assert await store.lookup("new", None, now + 60) == []


async def test_expired_entries_leave_the_storage_too(open_ledger: OpenLedger) -> None:
    store = await open_ledger(retention_s=60)
    now = time.time()
    await store.write(rows([entry("old", written_at=now - 61)]))
    await store.write(rows([entry("new", written_at=now - 5)]))

    await store.expire(now)

    if isinstance(store, RedisLedger):
        # A bucket goes as a whole, a retention after its last write.
        ttl = await store.client.ttl(f"{store.prefix}:0")
        assert 0 < ttl <= 60 - 5 + 1
    else:
        assert await store.count(now) == 1


async def test_the_ledger_stays_within_max_events(open_ledger: OpenLedger) -> None:
    store = await open_ledger(max_events=MAX_EVENTS)
    now = time.time()
    for batch in range(10):  # 10 batches of 100, 10 s apart, the newest last
        written_at = now - (10 - batch) * 10
        await store.write(rows([entry(f"e{batch}-{n}", written_at=written_at) for n in range(100)]))
    # 1,000 written against a bound of 200: Redis keeps it on every write, the others on expire.
    assert MAX_EVENTS * 0.9 <= await store.count(now) <= 1000

    await store.expire(now)

    kept = await store.count(now)
    assert kept <= MAX_EVENTS
    assert kept >= MAX_EVENTS * 0.9  # Redis drops a twentieth of the bound at a time
    assert await store.lookup("e9-99", None, now)  # the newest stay
    assert await store.lookup("e0-0", None, now) == []  # the oldest went first


async def test_a_write_cancelled_midway_leaves_the_store_usable(open_ledger: OpenLedger) -> None:
    store = await open_ledger(max_events=100_000)
    big = asyncio.create_task(store.write(rows([entry(f"x{n}") for n in range(20_000)])))
    await asyncio.sleep(0)  # the write is under way (in its thread, for SQLite)
    big.cancel()

    await store.write(rows([entry("after")]))

    assert [e.id for e in await store.lookup("after", None, time.time())] == ["after"]


async def test_replicas_starting_at_once_share_one_store(open_ledger: OpenLedger) -> None:
    # PostgreSQL: concurrent CREATE TABLE IF NOT EXISTS of one new table can fail on the catalog.
    stores = await asyncio.gather(*(open_ledger() for _ in range(8)))
    await stores[0].write(rows([entry("ev-1")]))
    assert [found.id for found in await stores[-1].lookup("ev-1", None, time.time())] == ["ev-1"]
