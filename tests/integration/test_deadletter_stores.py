"""One behaviour suite for every dead-letter store: write, list, claim once, unclaim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from deadletter_stores import STORE_FACTORIES, OpenStore

from publisher.core.decisions import Reason
from publisher.core.message import Message
from publisher.engine.deadletter import DeadLetter, replay_body

RECEIVED = 1_795_323_600.0


@pytest.fixture(params=sorted(STORE_FACTORIES))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    async with STORE_FACTORIES[request.param](tmp_path) as opener:
        yield opener


def letter(n: int, tenant: str = "acme", **fields: object) -> DeadLetter:
    body = f'{{"tenant":"{tenant}","detail_type":"T","detail":{{"n":{n}}},"id":"ev-{n}"}}'
    return DeadLetter(
        Message(f"m-{n}", body.encode(), RECEIVED),
        str(fields.get("reason", Reason.REJECTED.value)),
        "MalformedDetail",
        f"bad {n}",
        3,
        tenant=None,
        event_id=None,
    )


async def test_written_letters_are_listed_in_order_with_every_field(open_store: OpenStore) -> None:
    writer = await open_store()
    await writer.write([letter(1), letter(2)])
    await writer.write([letter(3, tenant="globex")])

    stored = await (await open_store()).records()  # another process with the same config

    assert [s.record["event"]["id"] for s in stored] == ["ev-1", "ev-2", "ev-3"]
    first = stored[0].record
    assert first["reason"] == "rejected"
    assert (first["error_code"], first["error_message"], first["attempts"]) == (
        "MalformedDetail",
        "bad 1",
        3,
    )
    assert first["first_received_at"].startswith("2026-11-22T05:00:00")
    assert len(first["dead_letter_id"]) == 32
    assert first["dead_lettered_at"]
    assert [s.tenant for s in stored] == ["acme", "acme", "globex"]
    assert not any(s.replayed for s in stored)
    assert replay_body(first) == b'{"tenant":"acme","detail_type":"T","detail":{"n":1},"id":"ev-1"}'


async def test_an_empty_store_lists_nothing(open_store: OpenStore) -> None:
    assert await (await open_store()).records() == []


async def test_a_claim_marks_once_and_shows_as_replayed(open_store: OpenStore) -> None:
    store = await open_store()
    await store.write([letter(1), letter(2), letter(3)])
    ids = [s.dead_letter_id for s in await store.records()]

    assert await store.claim(ids[:2]) == ids[:2]
    assert await store.claim(ids) == ids[2:]
    assert await store.claim(ids) == []
    stored = await (await open_store()).records()
    assert [s.replayed for s in stored] == [True, True, True]
    assert [s.dead_letter_id for s in stored] == ids


async def test_two_operators_claiming_at_once_each_get_a_letter_once(
    open_store: OpenStore,
) -> None:
    await (await open_store()).write([letter(n) for n in range(30)])
    first, second = await open_store(), await open_store()
    ids = [s.dead_letter_id for s in await first.records()]

    got_first, got_second = await asyncio.gather(first.claim(ids), second.claim(ids))

    assert not set(got_first) & set(got_second)
    assert sorted(got_first + got_second) == sorted(ids)


async def test_an_unclaimed_letter_can_be_claimed_again(open_store: OpenStore) -> None:
    store = await open_store()
    await store.write([letter(1), letter(2)])
    ids = [s.dead_letter_id for s in await store.records()]
    assert await store.claim(ids) == ids

    await store.unclaim(ids[:1])

    assert [s.replayed for s in await store.records()] == [False, True]
    assert await store.claim(ids) == ids[:1]


async def test_an_event_without_id_is_stored_with_the_id_it_was_given(
    open_store: OpenStore,
) -> None:
    store = await open_store()
    message = Message("m", b'{"tenant":"acme","detail_type":"T","detail":{}}', RECEIVED)
    await store.write([DeadLetter(message, "rejected", "X", "x", 1, None, "assigned-1")])

    (stored,) = await store.records()

    assert stored.record["event"]["id"] == "assigned-1"


async def test_replicas_starting_at_once_share_one_store(open_store: OpenStore) -> None:
    # PostgreSQL: concurrent CREATE TABLE IF NOT EXISTS of one new table can fail on the catalog.
    stores = await asyncio.gather(*(open_store() for _ in range(8)))
    await stores[0].write([letter(1)])
    assert [s.record["event"]["id"] for s in await stores[-1].records()] == ["ev-1"]
