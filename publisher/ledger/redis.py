"""The Redis ledger (Redis input): entries in one hash per time bucket, each bucket expiring.

Key `<stream>:ledger:<bucket start>`, field the event id, value a JSON object
{tenant: [stored fields]} (ids can repeat across tenants). A bucket spans a 168th of the
retention (at most an hour) and expires a retention after it closes, so Redis drops old
entries by itself; reads ignore entries past the retention, so expiry is exact for `trace`.
max_events is kept by dropping the oldest buckets whole. The merge runs in a script, in Redis,
so a pending entry never replaces a settled one and the daemon sends each entry once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio

from publisher.ledger.entry import LedgerEntry, LedgerRow, latest_per_tenant

BUCKETS = 168
SCRIPT_ROWS = 500
"""Rows per script call: a script blocks Redis, and the input's commands share the server."""
MAX_BUCKET_S = 3600
MERGE = """
local key = KEYS[1]
for i = 2, #ARGV, 3 do
    local id, tenant, fields = ARGV[i], ARGV[i + 1], cjson.decode(ARGV[i + 2])
    local old = redis.call('HGET', key, id)
    local all = {}
    if old then all = cjson.decode(old) end
    local previous = all[tenant]
    if previous == nil or fields[1] ~= 'pending' or previous[1] == 'pending' then
        all[tenant] = fields
        redis.call('HSET', key, id, cjson.encode(all))
    end
end
redis.call('EXPIREAT', key, ARGV[1])
return 0
"""


def bucket_span_s(retention_s: float) -> int:
    return max(1, min(MAX_BUCKET_S, int(retention_s // BUCKETS)))


class RedisLedger:
    def __init__(self, url: str, prefix: str, retention_s: float, max_events: int) -> None:
        self.url = url
        self.prefix = prefix
        self._retention_s = retention_s
        self._max_events = max_events
        self._span_s = bucket_span_s(retention_s)
        self._client: redis.asyncio.Redis | None = None
        self._merge: Any = None

    async def start(self) -> None:
        self._client = redis.asyncio.Redis.from_url(self.url)
        self._merge = self._client.register_script(MERGE)

    @property
    def client(self) -> redis.asyncio.Redis:
        if self._client is None:
            raise RuntimeError("ledger is not started")
        return self._client

    def _bucket(self, at: float) -> int:
        return int(at // self._span_s) * self._span_s

    def _key(self, bucket: int) -> str:
        return f"{self.prefix}:{bucket}"

    def _live_buckets(self, now: float) -> list[int]:
        """Every bucket that can hold an unexpired entry, oldest first."""
        first = self._bucket(now - self._retention_s)
        return list(range(first, self._bucket(now) + self._span_s, self._span_s))

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        by_bucket: dict[int, list[str | bytes]] = {}
        for row in rows:
            args = by_bucket.setdefault(self._bucket(row[5]), [])
            args += [row[0], row[1], orjson.dumps(_stored_fields(row))]
        for bucket, args in by_bucket.items():
            expire_at = math.ceil(bucket + self._span_s + self._retention_s)
            for start in range(0, len(args), SCRIPT_ROWS * 3):
                chunk = args[start : start + SCRIPT_ROWS * 3]
                await self._merge(keys=[self._key(bucket)], args=[expire_at, *chunk])

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        async with self.client.pipeline(transaction=False) as pipe:
            for bucket in self._live_buckets(now):
                pipe.hget(self._key(bucket), event_id)
            replies = await pipe.execute()
        found: list[LedgerEntry] = []
        for reply in replies:
            if reply is None:
                continue
            for owner, fields in orjson.loads(reply).items():
                entry = LedgerEntry.from_fields(event_id, owner, fields)
                fresh = entry.written_at >= now - self._retention_s
                if fresh and (tenant is None or owner == tenant):
                    found.append(entry)
        return latest_per_tenant(found)

    async def _sizes(self, buckets: list[int]) -> list[int]:
        async with self.client.pipeline(transaction=False) as pipe:
            for bucket in buckets:
                pipe.hlen(self._key(bucket))
            return [int(size) for size in await pipe.execute()]

    async def count(self, now: float) -> int:
        """Ids kept (an id shared by tenants counts once)."""
        return sum(await self._sizes(self._live_buckets(now)))

    async def expire(self, now: float) -> int:
        """Redis expires buckets itself; here only the oldest go when over max_events."""
        buckets = self._live_buckets(now)
        sizes = await self._sizes(buckets)
        total, removed = sum(sizes), 0
        for bucket, size in zip(buckets, sizes, strict=True):
            if total - removed <= self._max_events or bucket == buckets[-1]:
                break
            if size:
                await self.client.delete(self._key(bucket))
                removed += size
        return removed

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _stored_fields(row: LedgerRow) -> list[Any]:
    """Without id and tenant (the hash field and the object key); times to the millisecond,
    as the merge script keeps 14 significant digits of a number."""
    _, _, state, received, attempts, written, aws_event_id, settled, reason, dead_letter_id = row
    return [
        state,
        round(received, 3),
        attempts,
        round(written, 3),
        aws_event_id,
        None if settled is None else round(settled, 3),
        reason,
        dead_letter_id,
    ]
