"""The spool reads each tenant on its own: a backlog of one never stands before another's."""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from pathlib import Path

import orjson

from publisher.core.fairness import EQUAL_SHARE, Share
from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings


def body(tenant: str, n: int) -> bytes:
    return orjson.dumps({"tenant": tenant, "detail_type": "T", "detail": {"n": n}})


def spool(path: Path, consumer: bool = True) -> SpoolInput:
    return SpoolInput(SpoolInputSettings(path=path), consumer=consumer)


async def test_one_tenants_backlog_does_not_stand_before_anothers(tmp_path: Path) -> None:
    writer, consumer = spool(tmp_path / "s.db", consumer=False), spool(tmp_path / "s.db")
    await writer.start()
    await consumer.start()
    try:
        await writer.put([body("acme", n) for n in range(2_000)])
        await writer.put([body("globex", 0)])
        first = await consumer.fetch(20, wait_s=0)
        assert body("globex", 0) in [m.body for m in first]
        assert len(first) == 20
        acme = [orjson.loads(m.body)["detail"]["n"] for m in first if b"acme" in m.body]
        assert acme == list(range(len(acme)))  # each tenant still in its own order
    finally:
        await writer.close()
        await consumer.close()


async def test_own_puts_are_shared_between_tenants_too(tmp_path: Path) -> None:
    consumer = spool(tmp_path / "s.db")
    await consumer.start()
    try:
        flood = [body("acme", n) for n in range(1_000)]
        await consumer.put(flood)
        await consumer.fetch(10, wait_s=0)  # acme's memory lane is now trusted
        await consumer.put([body("globex", 0)])
        second = await consumer.fetch(10, wait_s=0)
        assert body("globex", 0) in [m.body for m in second]
    finally:
        await consumer.close()


async def test_fetches_follow_weights_and_allowances(tmp_path: Path) -> None:
    consumer = spool(tmp_path / "s.db")
    await consumer.start()
    try:
        for tenant in ("acme", "globex", "initech"):
            await consumer.put([body(tenant, n) for n in range(1_000)])
        shares = {"acme": Share(weight=3.0)}
        allowances = {"initech": 0.0}
        consumer.read_tenants_by(
            lambda t: shares.get(t, EQUAL_SHARE), lambda t: allowances.get(t, math.inf)
        )
        got = Counter(orjson.loads(m.body)["tenant"] for m in await consumer.fetch(400, wait_s=0))
        assert got["initech"] == 0  # over its limit: its rows wait in the spool
        assert abs(got["acme"] - 3 * got["globex"]) <= 4  # a row probed for unknown tenants
        assert sum(got.values()) == 400
        backlog = await consumer.backlog_by_tenant()
        assert {t: n for t, (n, _) in backlog.items()} == {
            "acme": 1_000,
            "globex": 1_000,
            "initech": 1_000,
        }
        oldest = backlog["initech"][1]
        assert oldest is not None
        assert 0 <= time.time() - oldest < 60
    finally:
        await consumer.close()


OLD_SCHEMA = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE totals (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT INTO totals (singleton, events, bytes) VALUES (0, 3, 0);
"""


async def test_a_spool_file_from_before_tenants_is_read_per_tenant(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    rows = [body("acme", 0), b"not json", body("globex", 0)]
    conn.executemany(
        "INSERT INTO messages (body, enqueued_at) VALUES (?, ?)", [(r, time.time()) for r in rows]
    )
    conn.commit()
    conn.close()
    consumer = spool(path)
    await consumer.start()
    try:
        backlog = await consumer.backlog_by_tenant()
        assert {t: n for t, (n, _) in backlog.items()} == {"acme": 1, "globex": 1, "": 1}
        got = await consumer.fetch(10, wait_s=0)
        assert sorted(m.body for m in got) == sorted(rows)  # the bad one too: it is refused
        await consumer.ack(got)
        assert await consumer.backlog() == 0
        assert await consumer.backlog_by_tenant() == {}
    finally:
        await consumer.close()


async def test_rows_an_earlier_version_puts_into_a_new_file_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    consumer = spool(path)
    await consumer.start()
    try:
        assert await consumer.fetch(10, wait_s=0) == []
        # An earlier version's writer: no tenant column in its INSERT, no per-tenant count.
        conn = sqlite3.connect(path)
        rows = [body("acme", n) for n in range(30)]
        conn.executemany(
            "INSERT INTO messages (body, enqueued_at) VALUES (?, ?)",
            [(r, time.time()) for r in rows],
        )
        conn.commit()
        conn.close()
        got: list[bytes] = []
        for _ in range(5):
            got += [m.body for m in await consumer.fetch(100, wait_s=0)]
        assert got == rows
    finally:
        await consumer.close()
