"""Measure what one remembered idempotency key costs: bytes of SQLite file (the spool's table
and the SQS key file share it) and bytes of Redis memory (the sorted set), per key.

    .venv/bin/python -m bench.dedupe_cost [--ids 200000] [--redis redis://127.0.0.1:6379/0]

Keys are (tenant, id) pairs as ingest makes them: a short tenant and a 36-character UUID.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import redis

from publisher.inputs import dedupe_sql
from publisher.inputs.dedupe import DedupeLimits, KeyedBodies, dedupe_key
from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings

BATCH = 500


def keys(count: int) -> list[str]:
    return [dedupe_key("acme", str(uuid.uuid4())) for _ in range(count)]


def sqlite_bytes_per_key(count: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "dedupe.db"
        conn = sqlite3.connect(path, isolation_level=None)
        dedupe_sql.create(conn)
        memory = dedupe_sql.RememberedKeys()
        empty = _file_bytes(conn)
        limits = DedupeLimits(window_s=86_400, max_ids=count)
        all_keys = keys(count)
        now = time.time()
        for start in range(0, count, BATCH):
            conn.execute("BEGIN")
            dedupe_sql.remember(conn, memory, all_keys[start : start + BATCH], now, limits)
            conn.execute("COMMIT")
            memory.commit()
        used = _file_bytes(conn) - empty
        conn.close()
        return used / count


def memory_bytes_per_key(count: int) -> float:
    """Python memory of the in-memory index (RememberedKeys) per key."""
    all_keys = keys(count)
    hashes = [dedupe_sql.key_hash(key) for key in all_keys]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    memory = dedupe_sql.RememberedKeys()
    for start in range(0, count, BATCH):
        memory.stage(hashes[start : start + BATCH], time.time() + 86_400, time.time(), count)
        memory.commit()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del hashes, all_keys
    return (used + count * _BYTES_OBJECT_SIZE) / count


# The hashes were made before tracing started; each is a 16-byte bytes object the index keeps.
_BYTES_OBJECT_SIZE = sys.getsizeof(b"x" * 16)


def _file_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def redis_bytes_per_key(url: str, count: int) -> float:
    client = redis.Redis.from_url(url)
    name = f"bench-dedupe-{uuid.uuid4().hex}"
    try:
        expires = int(time.time() * 1000) + 86_400_000
        all_keys = keys(count)
        for start in range(0, count, BATCH):
            client.zadd(
                name, {key: expires + i for i, key in enumerate(all_keys[start : start + BATCH])}
            )
        used = client.memory_usage(name, samples=0) or 0
        return int(used) / count
    finally:
        client.delete(name)
        client.close()


async def spool_puts_per_s(events: int, keyed: bool) -> float:
    """Events/s into the spool in puts of 100, with an idempotency key each or without."""
    with tempfile.TemporaryDirectory() as directory:
        spool = SpoolInput(SpoolInputSettings(path=Path(directory) / "spool.db"))
        await spool.start()
        limits = DedupeLimits(window_s=86_400, max_ids=1_000_000)
        body = b'{"tenant":"acme","detail_type":"OrderCreated","detail":{"order_id":"o-1"}}'
        all_keys = keys(events)  # made before the clock starts
        started = time.perf_counter()
        for start in range(0, events, 100):
            bodies = [body] * 100
            if keyed:
                await spool.put_once(KeyedBodies(all_keys[start : start + 100], bodies), limits)
            else:
                await spool.put(bodies)
        elapsed = time.perf_counter() - started
        await spool.close()
        return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=200_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"keys: {args.ids}, e.g. {keys(1)[0]} ({len(keys(1)[0])} bytes)")
    print(f"sqlite: {sqlite_bytes_per_key(args.ids):.1f} bytes of file per key")
    print(f"memory: {memory_bytes_per_key(args.ids):.1f} bytes of Python memory per key")
    print(f"redis: {redis_bytes_per_key(args.redis, args.ids):.1f} bytes of memory per key")
    for keyed in (False, True, False, True):
        rate = asyncio.run(spool_puts_per_s(args.ids, keyed))
        print(f"spool puts of 100, {'with' if keyed else 'without'} keys: {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
