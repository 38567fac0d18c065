"""The Redis ledger (Redis input): entries in hashes of a fixed number of events each.

Key `<stream>:ledger:<n>`, field the event id, value a JSON object {tenant: [stored fields]}
(ids can repeat across tenants). The counter `<stream>:ledger:count` numbers every entry
written by any replica; entry k goes to bucket k // BUCKET_EVENTS. Starting bucket n deletes
bucket n - KEPT_BUCKETS, so at most max_events are kept whatever the rate. Each bucket expires
a retention after its last write, and reads ignore entries past the retention, so expiry is
exact for `trace`. It all runs in one script per call, in Redis: a pending entry never
replaces a settled one, and the daemon sends each entry once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio

from publisher.ledger.entry import LedgerEntry, LedgerRow, latest_per_tenant

KEPT_BUCKETS = 20
SCRIPT_ROWS = 500
"""Rows per script call: a script blocks Redis, and the input's commands share the server."""
# KEYS[1] the counter; ARGV: prefix, events per bucket, buckets kept, expire-at, and the rows
# as one JSON array (one argument: far less for the daemon to pack than three per row). Bucket
# keys are built here, so on a Redis Cluster the prefix must hash to one slot (a {hash tag}
# in the stream name). cjson keeps 14 significant digits: epoch times to 0.1 ms.
MERGE = """
local prefix, per_bucket, kept, expire_at = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local rows = cjson.decode(ARGV[5])
local count = #rows
local first = redis.call('INCRBY', KEYS[1], count) - count
local touched = {}
for i = 1, count do
    local seq = first + i - 1
    local bucket = math.floor(seq / per_bucket)
    local key = prefix .. ':' .. bucket
    if seq % per_bucket == 0 and bucket >= kept then
        redis.call('DEL', prefix .. ':' .. (bucket - kept))
    end
    touched[key] = true
    local row = rows[i]
    local id, tenant = row[1], row[2]
    local fields = {row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10]}
    local old = redis.call('HGET', key, id)
    local all = {}
    if old then all = cjson.decode(old) end
    local previous = all[tenant]
    if previous == nil or fields[1] ~= 'pending' or previous[1] == 'pending' then
        all[tenant] = fields
        redis.call('HSET', key, id, cjson.encode(all))
    end
end
for key in pairs(touched) do redis.call('EXPIREAT', key, expire_at) end
return first
"""


class RedisLedger:
    def __init__(self, url: str, prefix: str, retention_s: float, max_events: int) -> None:
        self.url = url
        self.prefix = prefix
        self.counter = f"{prefix}:count"
        self._retention_s = retention_s
        self._per_bucket = max(1, math.ceil(max_events / KEPT_BUCKETS))
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

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        for start in range(0, len(rows), SCRIPT_ROWS):
            chunk = rows[start : start + SCRIPT_ROWS]
            expire_at = math.ceil(max(row[5] for row in chunk) + self._retention_s)
            args = [self.prefix, self._per_bucket, KEPT_BUCKETS, expire_at, orjson.dumps(chunk)]
            await self._merge(keys=[self.counter], args=args)

    async def _live_keys(self) -> list[str]:
        """The keys of the buckets that can hold entries, oldest first."""
        count = int(await self.client.get(self.counter) or 0)
        newest = max(0, count - 1) // self._per_bucket
        oldest = max(0, newest - KEPT_BUCKETS + 1)
        return [f"{self.prefix}:{bucket}" for bucket in range(oldest, newest + 1)]

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        keys = await self._live_keys()
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, event_id)
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

    async def expire(self, now: float) -> int:
        """Nothing to do: buckets expire in Redis, and writes drop the bucket past the bound."""
        return 0

    async def count(self, now: float) -> int:
        """Ids kept (an id shared by tenants counts once)."""
        keys = await self._live_keys()
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hlen(key)
            return sum(int(size) for size in await pipe.execute())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
