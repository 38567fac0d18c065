"""The spool's consumer takes its own process's puts from memory, everything else from the file."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from publisher.core.event import Event, decode_event
from publisher.core.message import Message, ValidatedMessage
from publisher.errors import InputUnavailable
from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.fresh import FreshRows
from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings


def body(n: int) -> bytes:
    return orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": {"n": n}})


def tenant_body(tenant: str, n: int) -> bytes:
    return orjson.dumps({"tenant": tenant, "detail_type": "T", "detail": {"n": n}})


def events_of(bodies: list[bytes]) -> list[Event]:
    return [decode_event(b) for b in bodies]


def event_of(message: Message) -> Event | None:
    """The event the spool handed along with the message, if any."""
    return message.event if isinstance(message, ValidatedMessage) else None


@asynccontextmanager
async def consumer_and_writer(
    path: Path, fresh: FreshRows | None = None
) -> AsyncIterator[tuple[SpoolInput, SpoolInput]]:
    """The daemon's spool (consumer, with ingest's puts) and another process's writer."""
    consumer = SpoolInput(SpoolInputSettings(path=path), consumer=True, fresh=fresh)
    writer = SpoolInput(SpoolInputSettings(path=path))
    await consumer.start()
    await writer.start()
    try:
        yield consumer, writer
    finally:
        await writer.close()
        await consumer.close()


async def test_own_puts_come_with_their_events_and_other_rows_in_order(tmp_path: Path) -> None:
    async with consumer_and_writer(tmp_path / "spool.db") as (consumer, writer):
        own = [body(1), body(2)]
        own_events = events_of(own)
        await consumer.put_validated(own, own_events)
        await writer.put([body(3)])
        await consumer.put_validated([body(4)], events_of([body(4)]))
        got = await consumer.fetch(10, wait_s=0)
        assert [m.body for m in got] == [body(1), body(2), body(3), body(4)]
        assert [int(m.id) for m in got] == [1, 2, 3, 4]
        assert event_of(got[0]) is own_events[0]
        assert event_of(got[1]) is own_events[1]
        # Past the gap at 3 the file answers, for 4 too (once), which still has its event.
        assert event_of(got[2]) is None
        assert event_of(got[3]) == decode_event(body(4))
        assert await consumer.fetch(10, wait_s=0) == []
        await consumer.ack(got)
        assert await consumer.backlog() == 0


@pytest.mark.parametrize("seed", range(6))
async def test_any_interleaving_delivers_every_row_once_in_id_order(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    put: list[bytes] = []
    delivered: list[Message] = []
    # A small budget, so that some own puts are left to the file and the lanes alternate.
    async with consumer_and_writer(tmp_path / "spool.db", FreshRows(max_rows=6)) as (
        consumer,
        writer,
    ):
        for _ in range(150):
            roll = rng.random()
            if roll < 0.4:
                bodies = [body(len(put) + i) for i in range(rng.randint(1, 4))]
                await consumer.put_validated(bodies, events_of(bodies))
                put += bodies
            elif roll < 0.6:
                bodies = [body(len(put) + i) for i in range(rng.randint(1, 3))]
                await writer.put(bodies)
                put += bodies
            else:
                batch = await consumer.fetch(rng.randint(1, 7), wait_s=0)
                delivered += batch
                await consumer.ack(batch)
        while batch := await consumer.fetch(500, wait_s=0):
            delivered += batch
            await consumer.ack(batch)
        assert await consumer.backlog() == 0
    assert [m.body for m in delivered] == put  # each once, in the order the file numbered them
    assert [int(m.id) for m in delivered] == list(range(1, len(put) + 1))
    for message in delivered:
        assert event_of(message) is None or event_of(message) == decode_event(message.body)
    assert any(event_of(m) is not None for m in delivered)
    assert any(event_of(m) is None for m in delivered)


async def test_a_failed_read_puts_the_rows_taken_from_memory_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with consumer_and_writer(tmp_path / "spool.db", FreshRows(max_rows=2)) as (
        consumer,
        _,
    ):
        await consumer.put_validated([body(1)], events_of([body(1)]))
        # A short read of acme from the file: memory now holds all of acme's unread rows.
        first = await consumer.fetch(10, wait_s=0)
        await consumer.ack(first)
        own = [body(2), body(3)]
        await consumer.put_validated(own, events_of(own))
        other = [tenant_body("globex", 4)]
        await consumer.put_validated(other, events_of(other))  # over budget: the file only

        def failing(db: SpoolDb, tenant: str, after_id: int, limit: int) -> list[Any]:
            raise sqlite3.OperationalError("disk I/O error")

        original = SpoolDb.read_tenant_after
        monkeypatch.setattr(SpoolDb, "read_tenant_after", failing)
        with pytest.raises(InputUnavailable, match="disk I/O error"):
            await consumer.fetch(10, wait_s=0)  # acme from memory, then globex's read fails
        monkeypatch.setattr(SpoolDb, "read_tenant_after", original)
        got = await consumer.fetch(10, wait_s=0)
        assert sorted((m.body, m.deliveries) for m in got) == sorted(
            [(body(2), 1), (body(3), 1), (other[0], 1)]
        )
        assert all(event_of(m) is not None for m in got if m.body in own)


async def test_only_the_consumer_keeps_its_puts_in_memory(tmp_path: Path) -> None:
    async with consumer_and_writer(tmp_path / "spool.db") as (consumer, writer):
        await writer.put_validated([body(1)], events_of([body(1)]))
        got = await consumer.fetch(10, wait_s=0)
        assert [(m.body, event_of(m)) for m in got] == [(body(1), None)]


async def test_a_full_read_past_what_memory_may_lack_trusts_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with consumer_and_writer(tmp_path / "spool.db") as (consumer, _):
        bodies = [body(n) for n in range(6)]
        await consumer.put_validated(bodies, events_of(bodies))
        first = await consumer.fetch(2, wait_s=0)  # a full read: more rows wait in the file

        def failing(db: SpoolDb, tenant: str, after_id: int, limit: int) -> list[Any]:
            raise AssertionError("read from the file what memory holds")

        monkeypatch.setattr(SpoolDb, "read_tenant_after", failing)
        rest = await consumer.fetch(10, wait_s=0)
    assert [m.body for m in first + rest] == bodies
    assert all(event_of(m) is not None for m in rest)


async def test_rows_from_before_start_are_read_from_the_file_first(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    writer = SpoolInput(SpoolInputSettings(path=path))
    await writer.start()
    earlier = [body(n) for n in range(3)]
    await writer.put(earlier)
    await writer.close()
    async with consumer_and_writer(path) as (consumer, _):
        own = [body(n) for n in range(3, 6)]
        await consumer.put_validated(own, events_of(own))
        first = await consumer.fetch(2, wait_s=0)  # rows 1 and 2: row 3 is in the file only
        rest = await consumer.fetch(10, wait_s=0)
    assert [m.body for m in first + rest] == earlier + own


async def test_rows_over_budget_are_read_from_the_file_before_memory_is_trusted(
    tmp_path: Path,
) -> None:
    async with consumer_and_writer(tmp_path / "spool.db", FreshRows(max_rows=3)) as (
        consumer,
        _,
    ):
        held = [body(n) for n in range(3)]
        await consumer.put_validated(held, events_of(held))
        over = [body(n) for n in range(3, 5)]
        await consumer.put_validated(over, events_of(over))  # past the budget: the file only
        first = await consumer.fetch(2, wait_s=0)
        later = [body(5)]
        await consumer.put_validated(later, events_of(later))
        rest = await consumer.fetch(10, wait_s=0)
    assert [m.body for m in first + rest] == held + over + later


async def test_the_budget_given_holds_from_the_start(tmp_path: Path) -> None:
    async with consumer_and_writer(tmp_path / "spool.db", FreshRows(max_rows=1)) as (consumer, _):
        bodies = [body(1), body(2)]
        await consumer.put_validated(bodies, events_of(bodies))  # over budget: the file only
        got = await consumer.fetch(10, wait_s=0)
    assert [(m.body, event_of(m)) for m in got] == [(body(1), None), (body(2), None)]
