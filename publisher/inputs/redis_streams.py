"""Redis Streams input: a stream read through a consumer group, leases kept in its pending list.

How the Input protocol maps onto a stream (Redis >= 7.0):

- put: XADD each body as the field `event`, all in one Lua script, so a put is all or nothing
  and `max_events` (checked against XLEN) is enforced atomically.
- fetch: entries idle in any consumer's pending list (PEL) for longer than the visibility
  timeout are taken over with XAUTOCLAIM first (a dead replica's work, our own lost replies,
  released entries), then new entries are read with XREADGROUP `>`, blocking in short slices
  so claimable entries are noticed during a long wait. `deliveries` is the PEL's delivery count.
- extend: the entries this consumer still owns get their idle time reset (XCLAIM JUSTID, which
  leaves the delivery count alone); entries another consumer took over are left to it.
- release(delay_s): Redis cannot delay an entry, but the idle time can be set: idle =
  visibility timeout - delay makes XAUTOCLAIM take it after `delay_s`. Delays longer than the
  visibility timeout are therefore shortened to it (held events come back sooner than asked).
- ack: XACK and XDEL in one MULTI, so the stream holds only unacknowledged entries and does not
  grow forever. XDEL removes the entry for every group: when other consumer groups read the
  same stream, set `delete_acked: false` and trim the stream yourself (XADD MAXLEN/MINID or
  XTRIM by the oldest id any group still needs).
- backlog: the group's `lag` (entries not yet delivered to it) plus its pending count; when
  Redis cannot compute the lag (deletions in the middle of the stream) XLEN stands in for both.

A new group starts at id 0, not `$`: entries added before the first daemon started (by the
application or `partner-publisher enqueue`) are delivered rather than silently skipped. On a
stream that already holds history for other readers this republishes that history once; that
is a duplicate, while `$` would be a loss. A group that disappears (a Redis restart without
persistence, someone deleting it) is created again on the next read.

Every connection failure surfaces as InputUnavailable (the pipeline backs off and calls again);
the client reconnects on the next call. Acknowledged entries are gone for good and unacknowledged
ones stay in the PEL, so an outage loses nothing that Redis itself kept.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import orjson
import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from publisher.core.message import Message
from publisher.errors import InputFull, InputUnavailable
from publisher.inputs import redis_scripts
from publisher.inputs.base import Deadline, renew_interval_s
from publisher.inputs.coalesce import ACK_INTERVAL_S, Coalescer
from publisher.inputs.dedupe import DedupeLimits, KeyedBodies
from publisher.settings import RedisInputSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")
ScriptArg = bytes | str | int | float

EVENT_FIELD = b"event"
# Claimable entries are looked for at most this often (a tenth of the visibility timeout,
# within these bounds): a released entry is picked up by another replica within a second.
MIN_CLAIM_INTERVAL_S = 0.05
MAX_CLAIM_INTERVAL_S = 1.0
IDS_PER_SCRIPT = 1000
"""Ids per extend/release script: keeps each script short, as scripts block Redis."""
FORGET_CONSUMERS_IDLE_MS = 3_600_000
"""Consumers with nothing pending and idle this long are removed from the group at start."""
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 10.0
"""Longer than the longest blocking read (MAX_CLAIM_INTERVAL_S)."""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RedisStreamsInput:
    """Implements the Input protocol over a Redis stream and one of its consumer groups."""

    def __init__(
        self, settings: RedisInputSettings, *, consumer: bool = True, client: Redis | None = None
    ) -> None:
        self._settings = settings
        self._consumer = consumer
        self.consumer_name = settings.consumer or default_consumer_name()
        self._client = client
        self._vt_ms = max(1, round(settings.visibility_timeout_s * 1000))
        self._claim_interval_s = min(
            MAX_CLAIM_INTERVAL_S, max(MIN_CLAIM_INTERVAL_S, settings.visibility_timeout_s / 10)
        )
        self._next_claim_at = 0.0
        self._claim_cursor: bytes | str = b"0-0"
        # Acks that arrive while one is under way (or within ACK_INTERVAL_S) share a round trip.
        self._acks: Coalescer[str] = Coalescer(self._acknowledge, ACK_INTERVAL_S)

    @property
    def lease_renew_s(self) -> float:
        return renew_interval_s(self._settings.visibility_timeout_s)

    @property
    def _where(self) -> str:
        return f"redis stream {self._settings.stream}"

    async def start(self) -> None:
        """Connect, create the consumer group if missing (when consuming), forget dead consumers.

        Redis being down is not fatal here: calls raise InputUnavailable until it is back.
        """
        if self._client is None:
            self._client = Redis.from_url(
                self._settings.url,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                # One quick retry covers a pooled connection that a Redis restart left dead;
                # longer outages are the pipeline's to wait out.
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            )
        client = self._client
        self._put_script = _Script(client, redis_scripts.PUT)
        self._put_once_script = client.register_script(redis_scripts.PUT_ONCE)
        self._claim_script = _Script(client, redis_scripts.CLAIM)
        self._lease_script = _Script(client, redis_scripts.LEASE)
        if self._consumer:
            try:
                await self._create_group()
                await self._forget_idle_consumers()
            except InputUnavailable as exc:
                log.warning("redis_unavailable_at_start", error=str(exc))
        log.info(
            "redis_input_started",
            stream=self._settings.stream,
            group=self._settings.group,
            consumer=self.consumer_name if self._consumer else None,
        )

    async def close(self) -> None:
        """Disconnect; entries leased to this consumer are claimable after their timeout."""
        await self._acks.drain()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def put(self, bodies: Sequence[bytes]) -> None:
        """XADD every body (field `event`) in one script: all of them, or InputFull."""
        if not bodies:
            return
        limit = self._settings.max_events or 0
        args: list[ScriptArg] = [limit, *bodies]
        added = await self._run(lambda _: self._put_script(self._settings.stream, args))
        if added == -1:
            raise InputFull(f"{self._where} holds {limit} entries or more (input.max_events)")

    async def put_once(self, batch: KeyedBodies, limits: DedupeLimits) -> list[bool]:
        """Like put, skipping bodies whose key is remembered in the sorted set `<stream>:dedupe`,
        checked and written in the same script as the XADDs (so replicas dedupe together)."""
        keys, bodies = batch.keys, batch.bodies
        if not bodies:
            return []
        stream = self._settings.stream
        limit = self._settings.max_events or 0
        window_ms = max(1, round(limits.window_s * 1000))
        args: list[ScriptArg] = [limit, window_ms, limits.max_ids]
        for key, body in zip(keys, bodies, strict=True):
            args += [key or "", body]
        script = self._put_once_script
        flags = await self._run(lambda _: script(keys=[stream, dedupe_set(stream)], args=args))
        if flags == -1:
            raise InputFull(f"{self._where} holds {limit} entries or more (input.max_events)")
        return [bool(flag) for flag in flags]

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Claim timed-out entries, then read new ones, waiting at most wait_s for the first."""
        if max_messages <= 0:
            return []
        loop = asyncio.get_running_loop()
        deadline = Deadline(wait_s)
        while True:
            batch = await self._claim_if_due(max_messages, loop.time())
            block_s = 0.0 if batch else min(deadline.at, self._next_claim_at) - loop.time()
            batch += await self._read_new(max_messages - len(batch), block_s)
            if batch or deadline.remaining_s() <= 0:
                return batch

    async def ack(self, messages: Sequence[Message]) -> None:
        """XACK (and XDEL unless delete_acked is off) in one transaction."""
        await self._acks.submit([message.id for message in messages])

    async def _acknowledge(self, ids: list[str]) -> None:
        stream, group = self._settings.stream, self._settings.group

        async def acknowledge(client: Redis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.xack(stream, group, *ids)
                if self._settings.delete_acked:
                    pipe.xdel(stream, *ids)
                await pipe.execute()

        await self._run(acknowledge)

    async def extend(self, messages: Sequence[Message]) -> None:
        """Reset the idle time of the entries this consumer still owns."""
        await self._set_idle(messages, 0)

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Make entries claimable after delay_s (at most the visibility timeout)."""
        idle_ms = max(self._vt_ms - round(max(delay_s, 0.0) * 1000), 0)
        await self._set_idle(messages, idle_ms)
        if idle_ms == self._vt_ms:
            self._next_claim_at = 0.0  # our own next fetch takes them back at once
            self._claim_cursor = b"0-0"

    async def backlog(self) -> int:
        """Entries not yet delivered to the group plus those delivered and not acknowledged."""
        stream = self._settings.stream

        async def query(client: Redis) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                pipe.xlen(stream)
                pipe.xinfo_groups(stream)
                result: list[Any] = await pipe.execute(raise_on_error=False)
                return result

        length, groups = await self._run(query)
        if isinstance(length, Exception):
            raise length
        for info in groups if isinstance(groups, list) else []:
            if _text(info.get("name")) == self._settings.group:
                lag = info.get("lag")
                return int(length) if lag is None else int(lag) + int(info["pending"])
        return int(length)

    # -- internals -----------------------------------------------------------------------

    async def _claim_if_due(self, max_messages: int, now: float) -> list[Message]:
        if not self._consumer or now < self._next_claim_at:
            return []
        settings = self._settings
        args: list[ScriptArg] = [
            settings.group,
            self.consumer_name,
            self._vt_ms,
            self._claim_cursor,
            max_messages,
        ]
        reply = await self._with_group(lambda _: self._claim_script(settings.stream, args))
        cursor, entries, counts = reply
        self._claim_cursor = cursor
        finished = _text(cursor) == "0-0" and len(entries) < max_messages
        self._next_claim_at = now + self._claim_interval_s if finished else now
        messages = [
            _message(entry[0], entry[1], int(count))
            for entry, count in zip(entries, counts, strict=True)
            if entry
        ]
        if messages:
            log.info("redis_entries_claimed", entries=len(messages), consumer=self.consumer_name)
        return messages

    async def _read_new(self, count: int, block_s: float) -> list[Message]:
        if count <= 0:
            return []
        # BLOCK 0 would wait forever: a wait under a millisecond is no wait at all.
        block = round(block_s * 1000) if block_s >= 0.001 else None
        settings = self._settings
        reply: Any = await self._with_group(
            lambda client: client.xreadgroup(
                settings.group,
                self.consumer_name,
                {settings.stream: ">"},
                count=count,
                block=block,
            )
        )
        return [
            _message(entry_id, fields, 1)
            for _, entries in reply or []
            for entry_id, fields in entries
        ]

    async def _set_idle(self, messages: Sequence[Message], idle_ms: int) -> None:
        ids = [message.id for message in messages]
        settings = self._settings
        for start in range(0, len(ids), IDS_PER_SCRIPT):
            args: list[ScriptArg] = [
                settings.group,
                self.consumer_name,
                idle_ms,
                *ids[start : start + IDS_PER_SCRIPT],
            ]
            await self._with_group(partial(self._lease_script, settings.stream, args))

    async def _create_group(self) -> None:
        settings = self._settings
        try:
            await self._run(
                lambda client: client.xgroup_create(
                    settings.stream, settings.group, "0", mkstream=True
                )
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return
        log.info("redis_group_created", stream=settings.stream, group=settings.group)

    async def _forget_idle_consumers(self) -> None:
        """Replicas that went away leave their names in the group; drop the empty, idle ones."""
        settings = self._settings
        consumers = await self._run(
            lambda client: client.xinfo_consumers(settings.stream, settings.group)
        )
        for info in consumers:
            name = _text(info.get("name"))
            idle = int(info.get("idle", 0))
            if (
                name != self.consumer_name
                and not info.get("pending")
                and idle > FORGET_CONSUMERS_IDLE_MS
            ):
                await self._run(partial(_delete_consumer, settings, name))
                log.info("redis_consumer_forgotten", consumer=name, idle_ms=idle)

    async def _with_group(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        """Run a group command; when the group is missing, create it and run it once more."""
        try:
            return await self._run(operation)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        await self._create_group()
        return await self._run(operation)

    async def _run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        if self._client is None:
            raise InputUnavailable(f"{self._where}: the input is not started")
        try:
            return await operation(self._client)
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError) as exc:
            raise InputUnavailable(f"{self._where} at {self._safe_url()}: {exc}") from None
        except OutOfMemoryError as exc:
            raise InputFull(f"{self._where}: Redis is out of memory ({exc})") from None

    def _safe_url(self) -> str:
        """The URL without credentials, for messages and logs."""
        url = self._settings.url
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def dedupe_set(stream: str) -> str:
    """The sorted set that remembers the idempotency keys of what ingest added to `stream`."""
    return f"{stream}:dedupe"


class _Script:
    """A Lua script on one stream key; redis-py loads it again after a Redis restart."""

    def __init__(self, client: Redis, source: str) -> None:
        self._script = client.register_script(source)

    async def __call__(self, stream: str, args: list[ScriptArg], _: Redis | None = None) -> Any:
        return await self._script(keys=[stream], args=args)


async def _delete_consumer(settings: RedisInputSettings, name: str, client: Redis) -> None:
    await client.xgroup_delconsumer(settings.stream, settings.group, name)


def _message(entry_id: bytes | str, fields: Any, deliveries: int) -> Message:
    """A Message for a stream entry; without a bytes `event` field the body describes the entry
    as a JSON array of its fields and values, which the pipeline dead-letters as invalid_json."""
    pairs = _pairs(fields)
    body = pairs.get(EVENT_FIELD)
    if not isinstance(body, bytes):
        body = orjson.dumps([_text(part) for pair in pairs.items() for part in pair])
    entry = _text(entry_id)
    milliseconds = int(entry.partition("-")[0])
    return Message(entry, body, milliseconds / 1000, max(deliveries, 1))


def _pairs(fields: Any) -> dict[Any, Any]:
    if isinstance(fields, dict):
        return fields
    if isinstance(fields, list):
        return dict(zip(fields[::2], fields[1::2], strict=True))
    return {}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
