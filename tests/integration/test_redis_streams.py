"""The Redis Streams input beyond the shared suite: takeover, bad entries, backlog, outages."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio
from emulator_support import ACCOUNT, SOURCE, control

from publisher.core.message import Message
from publisher.core.source_states import SourceStates
from publisher.core.tenants import tenants_for
from publisher.emulator import EmulatorOptions, running_emulator
from publisher.engine.assemble import open_pipeline
from publisher.errors import InputUnavailable
from publisher.inputs.redis_streams import RedisStreamsInput, default_consumer_name
from publisher.observe.metrics import Metrics
from publisher.settings import RedisInputSettings, Settings
from tests.conftest import LOCAL_REDIS_URL, RedisServer


def body(n: int) -> bytes:
    return orjson.dumps({"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}})


def settings_for(
    redis_stream: str, url: str = LOCAL_REDIS_URL, **overrides: Any
) -> RedisInputSettings:
    values: dict[str, Any] = {"stream": redis_stream, "visibility_timeout_s": 0.5, **overrides}
    return RedisInputSettings(kind="redis", url=url, **values)


async def fetch_n(source: RedisStreamsInput, count: int, within_s: float = 5.0) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        got += await source.fetch(count - len(got), wait_s=max(deadline - time.monotonic(), 0))
    return got


async def owners(redis_admin: redis.asyncio.Redis, redis_stream: str) -> dict[str, str]:
    """Pending entry id -> consumer name."""
    pending = await redis_admin.xpending_range(redis_stream, "publisher", "-", "+", 100)
    return {p["message_id"].decode(): p["consumer"].decode() for p in pending}


async def test_a_live_consumer_takes_over_a_dead_consumers_entries(
    redis_stream: str, redis_admin: redis.asyncio.Redis
) -> None:
    dead = RedisStreamsInput(settings_for(redis_stream, consumer="dead"))
    live = RedisStreamsInput(settings_for(redis_stream, consumer="live"))
    await dead.start()
    await live.start()
    try:
        await dead.put([body(n) for n in range(3)])
        taken = await fetch_n(dead, 3)
        await dead.close()  # it never acks: its entries sit in its pending list
        assert set((await owners(redis_admin, redis_stream)).values()) == {"dead"}

        assert await live.fetch(10, wait_s=0.2) == []  # not before the visibility timeout
        claimed = await fetch_n(live, 3, within_s=3.0)

        assert [m.id for m in claimed] == [m.id for m in taken]
        assert [m.body for m in claimed] == [body(n) for n in range(3)]
        assert [m.deliveries for m in claimed] == [2, 2, 2]
        assert set((await owners(redis_admin, redis_stream)).values()) == {"live"}
        await live.ack(claimed)
        assert await redis_admin.xpending(redis_stream, "publisher") == {
            "pending": 0,
            "min": None,
            "max": None,
            "consumers": [],
        }
        assert await redis_admin.xlen(redis_stream) == 0  # acked entries are deleted
    finally:
        await live.close()


async def test_extend_does_not_take_entries_back_from_their_new_owner(
    redis_stream: str, redis_admin: redis.asyncio.Redis
) -> None:
    slow = RedisStreamsInput(settings_for(redis_stream, consumer="slow"))
    other = RedisStreamsInput(settings_for(redis_stream, consumer="other"))
    await slow.start()
    await other.start()
    try:
        await slow.put([body(1)])
        leased = await fetch_n(slow, 1)
        claimed = await fetch_n(other, 1, within_s=3.0)
        await slow.extend(leased)

        assert [m.id for m in claimed] == [m.id for m in leased]
        assert await owners(redis_admin, redis_stream) == {leased[0].id: "other"}
    finally:
        await slow.close()
        await other.close()


async def test_release_hands_entries_to_another_consumer_within_a_second(redis_stream: str) -> None:
    first = RedisStreamsInput(settings_for(redis_stream, consumer="first", visibility_timeout_s=30))
    second = RedisStreamsInput(
        settings_for(redis_stream, consumer="second", visibility_timeout_s=30)
    )
    await first.start()
    await second.start()
    try:
        await first.put([body(1), body(2)])
        leased = await fetch_n(first, 2)
        await first.release(leased)
        released_at = time.monotonic()

        back = await fetch_n(second, 2, within_s=3.0)

        assert time.monotonic() - released_at < 1.5
        assert [(m.body, m.deliveries) for m in back] == [(body(1), 2), (body(2), 2)]
    finally:
        await first.close()
        await second.close()


async def test_backlog_is_lag_plus_pending(
    redis_stream: str, redis_admin: redis.asyncio.Redis
) -> None:
    # Without deleting acked entries XLEN would overcount: the backlog must come from the group.
    source = RedisStreamsInput(
        settings_for(redis_stream, delete_acked=False, visibility_timeout_s=30)
    )
    await source.start()
    try:
        await source.put([body(n) for n in range(5)])
        assert await source.backlog() == 5  # lag 5, pending 0
        leased = await fetch_n(source, 2)
        assert await source.backlog() == 5  # lag 3, pending 2
        await source.ack(leased[:1])

        assert await source.backlog() == 4  # lag 3, pending 1
        assert await redis_admin.xlen(redis_stream) == 5
    finally:
        await source.close()


async def test_entries_added_before_the_group_existed_are_delivered(
    redis_stream: str, redis_admin: redis.asyncio.Redis
) -> None:
    await redis_admin.xadd(redis_stream, {"event": body(1)})
    source = RedisStreamsInput(settings_for(redis_stream))
    await source.start()
    try:
        assert [m.body for m in await fetch_n(source, 1)] == [body(1)]
        await redis_admin.xgroup_destroy(
            redis_stream, "publisher"
        )  # e.g. Redis restarted without it
        await redis_admin.xadd(redis_stream, {"event": body(2)})

        again = await fetch_n(source, 2)

        assert sorted(m.body for m in again) == [body(1), body(2)]
    finally:
        await source.close()


async def test_malformed_entries_reach_the_pipeline_as_their_fields(
    redis_stream: str, redis_admin: redis.asyncio.Redis
) -> None:
    source = RedisStreamsInput(settings_for(redis_stream))
    await source.start()
    try:
        no_event = (await redis_admin.xadd(redis_stream, {"payload": "x", "n": "1"})).decode()
        not_utf8 = (await redis_admin.xadd(redis_stream, {"event": b"\xff\xfe"})).decode()
        messages = await fetch_n(source, 2)
    finally:
        await source.close()

    assert [(m.id, m.body) for m in messages] == [
        (no_event, b'["payload","x","n","1"]'),
        (not_utf8, b"\xff\xfe"),
    ]
    assert messages[0].enqueued_at == int(no_event.split("-")[0]) / 1000


async def test_malformed_entry_becomes_a_dead_letter_with_its_stream_id(
    redis_stream: str,
    redis_admin: redis.asyncio.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    dead_letters = tmp_path / "dead-letters.jsonl"
    async with running_emulator(EmulatorOptions(accept_unknown_sources=True)) as emulator:
        settings = Settings.model_validate(
            {
                "aws": {"endpoint_url": emulator.url},
                "input": {"kind": "redis", "url": LOCAL_REDIS_URL, "stream": redis_stream},
                "dead_letter": {"kind": "file", "path": str(dead_letters)},
                "sources": {"refresh": False},
                "tenants": {"acme": {"account": ACCOUNT, "source": SOURCE}},
            }
        )
        assert isinstance(settings.input, RedisInputSettings)
        source = RedisStreamsInput(settings.input)
        await source.start()
        malformed = (await redis_admin.xadd(redis_stream, {"payload": "not an event"})).decode()
        await redis_admin.xadd(redis_stream, {"event": body(7)})
        stop = asyncio.Event()
        tenants, states = tenants_for(settings), SourceStates()
        async with open_pipeline(settings, source, Metrics(), tenants, states) as pipeline:
            running = asyncio.create_task(pipeline.run(stop, grace_s=5))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                _, recorded = await control(emulator.url, "GET", "/_emulator/events")
                if recorded["events"] and dead_letters.exists():
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await running
        await source.close()

    records = [orjson.loads(line) for line in dead_letters.read_bytes().splitlines()]
    assert [(r["message_id"], r["reason"], r["event"]) for r in records] == [
        (malformed, "invalid_json", ["payload", "not an event"])
    ]
    assert [e["detail"] for e in recorded["events"]] == [{"n": 7}]
    assert await redis_admin.xlen(redis_stream) == 0
    assert (await redis_admin.xpending(redis_stream, "publisher"))["pending"] == 0


async def test_an_outage_raises_input_unavailable_and_loses_nothing(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    settings = settings_for("events", url=server.url, visibility_timeout_s=1.0)
    source = RedisStreamsInput(settings)
    try:
        await source.start()
        await source.put([body(n) for n in range(4)])
        leased = await fetch_n(source, 2)
        await source.ack(leased[:1])
        server.kill()

        for call in (
            source.fetch(10, wait_s=0.2),
            source.put([body(9)]),
            source.backlog(),
            source.extend(leased),
            source.ack(leased[1:]),
        ):
            with pytest.raises(InputUnavailable):
                await call

        server.start()  # same port, same AOF
        rest = await fetch_n(source, 3, within_s=5.0)

        # The unacked lease comes back after its timeout; the acked entry never does.
        assert sorted(orjson.loads(m.body)["detail"]["n"] for m in rest) == [1, 2, 3]
        assert [m.deliveries for m in rest if m.id == leased[1].id] == [2]
        await source.ack(rest)
        assert await source.backlog() == 0
    finally:
        await source.close()
        server.kill()


async def test_start_tolerates_redis_being_down(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    source = RedisStreamsInput(settings_for("events", url=server.url))
    await source.start()  # nothing listens yet
    try:
        with pytest.raises(InputUnavailable):
            await source.fetch(10, wait_s=0)
        server.start()
        await source.put([body(1)])
        assert [m.body for m in await fetch_n(source, 1)] == [body(1)]
    finally:
        await source.close()
        server.kill()


def test_the_default_consumer_name_is_host_and_pid() -> None:
    source = RedisStreamsInput(settings_for("events"))
    assert source.consumer_name == default_consumer_name()
    assert default_consumer_name().endswith(f"-{os.getpid()}")
