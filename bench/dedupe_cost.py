"""Measure what one remembered idempotency key costs: bytes of SQLite file (the spool's table
and the SQS key file share it) and bytes of Redis memory (the sorted set), per key.

    .venv/bin/python -m bench.dedupe_cost [--ids 200000] [--redis redis://127.0.0.1:6379/0]

Keys are (tenant, id) pairs as ingest makes them: a short tenant and a 36-character UUID.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import redis

from publisher.inputs import dedupe_sql
from publisher.inputs.dedupe import DedupeLimits, dedupe_key

BATCH = 500


def keys(count: int) -> list[str]:
    return [dedupe_key("acme", str(uuid.uuid4())) for _ in range(count)]


def sqlite_bytes_per_key(count: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "dedupe.db"
        conn = sqlite3.connect(path, isolation_level=None)
        dedupe_sql.create(conn)
        empty = _file_bytes(conn)
        limits = DedupeLimits(window_s=86_400, max_ids=count)
        all_keys = keys(count)
        now = time.time()
        for start in range(0, count, BATCH):
            conn.execute("BEGIN")
            dedupe_sql.remember(conn, all_keys[start : start + BATCH], now, limits)
            conn.execute("COMMIT")
        used = _file_bytes(conn) - empty
        conn.close()
        return used / count


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=200_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"keys: {args.ids}, e.g. {keys(1)[0]} ({len(keys(1)[0])} bytes)")
    print(f"sqlite: {sqlite_bytes_per_key(args.ids):.1f} bytes of file per key")
    print(f"redis: {redis_bytes_per_key(args.redis, args.ids):.1f} bytes of memory per key")


if __name__ == "__main__":
    main()
