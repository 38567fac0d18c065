"""`ledger_footprint` (on demand): the ledger at its bound of 1,000,000 events, per store.

Writes 1,100,000 published outcomes (UUID ids, 36-character EventIds) in batches of 5,000
through each store's `write`, as the daemon's ledger task does, then `expire` with
max_events 1,000,000. Reports the CPU per event written (this process; Redis's own CPU in
`redis_server_cpu_us_per_event`), what is kept, and the footprint per kept event: the SQLite
file (and its WAL) on disk, Redis's `used_memory` growth.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from bench.context import Context, Result
from publisher.ledger.entry import LedgerRow
from publisher.ledger.redis import RedisLedger
from publisher.ledger.sqlite import SqliteLedger
from publisher.ledger.store import LedgerStore

MAX_EVENTS = 1_000_000
WRITTEN = 1_100_000
BATCH = 5000
RETENTION_S = 604_800.0
REDIS_URL = "redis://127.0.0.1:6379/0"


def _rows(start: int, now: float) -> list[LedgerRow]:
    rows: list[LedgerRow] = []
    for _ in range(start, start + BATCH):
        event_id, aws_id = uuid.uuid4().hex, str(uuid.uuid4())
        rows.append((event_id, "acme", "published", now - 0.2, 1, now, aws_id, now, None, None))
    return rows


async def _fill(store: LedgerStore) -> dict[str, Any]:
    await store.start()
    write_cpu_s = 0.0
    now = time.time()
    for start in range(0, WRITTEN, BATCH):
        rows = _rows(start, now + start / 100_000)  # made outside the timing (uuid4 is slow)
        started_cpu = time.process_time()
        await store.write(rows)
        write_cpu_s += time.process_time() - started_cpu
    end = now + WRITTEN / 100_000
    removed = await store.expire(end)
    kept = await store.count(end)
    await store.close()
    return {
        "written": WRITTEN,
        "write_cpu_us_per_event": round(write_cpu_s / WRITTEN * 1e6, 2),
        "expired_over_bound": removed,
        "kept": kept,
        "bounded": kept <= MAX_EVENTS,
    }


def _redis_cpu_s(client: redis.Redis) -> float:
    info: dict[str, Any] = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def footprint(ctx: Context) -> Result:
    result: Result = {}
    with tempfile.TemporaryDirectory(dir=ctx.workdir) as directory:
        path = Path(directory) / "ledger.db"
        sqlite = asyncio.run(_fill(SqliteLedger(path, RETENTION_S, MAX_EVENTS)))
        disk = sum(p.stat().st_size for p in Path(directory).iterdir())
        sqlite["disk_bytes_per_event"] = round(disk / sqlite["kept"], 1)
        result["sqlite"] = sqlite
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"bench-ledger-{uuid.uuid4().hex}"
    try:
        before, cpu_before = int(client.info("memory")["used_memory"]), _redis_cpu_s(client)
        stats = asyncio.run(_fill(RedisLedger(REDIS_URL, prefix, RETENTION_S, MAX_EVENTS)))
        after = int(client.info("memory")["used_memory"])
        stats["memory_bytes_per_event"] = round((after - before) / stats["kept"], 1)
        stats["redis_server_cpu_us_per_event"] = round(
            (_redis_cpu_s(client) - cpu_before) / WRITTEN * 1e6, 2
        )
        result["redis"] = stats
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    return result
