"""Idempotent ingest over every input: a (tenant, id) posted again within the window is
answered as accepted and stored once; events without an id get one and are not deduplicated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from input_factories import INPUT_FACTORIES, InputOptions

from publisher.core.message import Message
from publisher.core.tenants import TenantRegistry
from publisher.http.ingest import Ingest
from publisher.inputs.base import Input
from publisher.observe.metrics import Metrics
from publisher.settings import IngestSettings, TenantSettings

ROUTER = TenantRegistry(
    {
        "acme": TenantSettings(account="111122223333", source="aws.partner/example.com/a/o"),
        "globex": TenantSettings(account="444455556666", source="aws.partner/example.com/g/o"),
    },
    "us-east-1",
)


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}, **extra}


@dataclass
class Served:
    sink: Input
    http: aiohttp.ClientSession
    start: Callable[..., AbstractAsyncContextManager[str]]
    url: str = ""

    async def post(self, items: list[dict[str, Any]]) -> tuple[int, Any]:
        # aiohttp sends bytes as application/octet-stream, which ingest refuses (415).
        headers = {"Content-Type": "application/json"}
        async with self.http.post(self.url, data=orjson.dumps(items), headers=headers) as response:
            return response.status, await response.json()

    async def stored(self) -> list[dict[str, Any]]:
        """Every event the input holds: fetch until a fetch finds nothing more. One fetch is not
        enough: it returns once anything is there, and a broker (RabbitMQ) pushes deliveries
        one at a time, so the rest of what was put may arrive just after it returned."""
        messages: list[Message] = []
        while batch := await self.sink.fetch(10_000, wait_s=0.5):
            messages += batch
        return [orjson.loads(message.body) for message in messages]


Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture(params=list(INPUT_FACTORIES))
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Serve:
    """`async with serve(**ingest_settings) as served:`; `served.start()` runs one ingest (a
    second one over the same input and key file stands for a restarted daemon)."""
    factory = INPUT_FACTORIES[request.param]

    @asynccontextmanager
    async def open_served(max_events: int | None = None, **settings: Any) -> AsyncIterator[Served]:
        settings.setdefault("dedupe_path", tmp_path / "dedupe.db")
        options = InputOptions(tmp_path, visibility_timeout_s=30, max_events=max_events)
        async with factory(options) as opened, aiohttp.ClientSession() as http:

            @asynccontextmanager
            async def start() -> AsyncIterator[str]:
                ingest = Ingest(IngestSettings(port=0, **settings), opened.input, ROUTER, Metrics())
                await ingest.start()
                served.url = f"http://127.0.0.1:{ingest.port}/v1/events"
                try:
                    yield served.url
                finally:
                    await ingest.stop()

            served = Served(opened.input, http, start)
            yield served

    return open_served


async def test_the_same_batch_posted_three_times_is_stored_once(serve: Serve) -> None:
    batch = [event(n, id=f"ord-{n}") for n in range(5)]
    async with serve() as served, served.start():
        answers = [await served.post(batch) for _ in range(3)]
        assert [status for status, _ in answers] == [202, 202, 202]
        assert [answer["duplicates"] for _, answer in answers] == [0, 5, 5]
        assert all(answer["accepted"] == 5 for _, answer in answers)
        assert all(answer["ids"] == [f"ord-{n}" for n in range(5)] for _, answer in answers)
        assert sorted(item["id"] for item in await served.stored()) == sorted(
            f"ord-{n}" for n in range(5)
        )


async def test_a_restarted_ingest_still_knows_the_ids(serve: Serve) -> None:
    batch = [event(n, id=f"ord-{n}") for n in range(3)]
    async with serve() as served:
        async with served.start():
            assert (await served.post(batch))[1]["duplicates"] == 0
        async with served.start():
            status, answer = await served.post(batch)
        assert (status, answer["duplicates"], answer["accepted"]) == (202, 3, 3)
        assert len(await served.stored()) == 3


async def test_ids_are_per_tenant_and_repeats_in_one_request_count(serve: Serve) -> None:
    items = [event(1, id="x"), event(2, id="x"), event(3, id="x", tenant="globex")]
    async with serve() as served, served.start():
        status, answer = await served.post(items)
        assert (status, answer["accepted"], answer["duplicates"]) == (202, 3, 1)
        stored = await served.stored()
        assert sorted((item["tenant"], item["detail"]["n"]) for item in stored) == [
            ("acme", 1),
            ("globex", 3),
        ]


async def test_events_without_id_get_one_and_are_never_duplicates(serve: Serve) -> None:
    async with serve() as served, served.start():
        first = (await served.post([event(1), event(1, id=None)]))[1]
        second = (await served.post([event(1)]))[1]
        assert (first["duplicates"], second["duplicates"]) == (0, 0)
        ids = first["ids"] + second["ids"]
        assert len(set(ids)) == 3
        assert all(len(id_) == 36 for id_ in ids)  # UUIDs
        assert sorted(item["id"] for item in await served.stored()) == sorted(ids)


async def test_an_id_is_forgotten_after_the_window(serve: Serve) -> None:
    async with serve(dedupe_window_s=0.3) as served, served.start():
        assert (await served.post([event(1, id="a")]))[1]["duplicates"] == 0
        assert (await served.post([event(1, id="a")]))[1]["duplicates"] == 1
        deadline = time.monotonic() + 10
        while (await served.post([event(2, id="a")]))[1]["duplicates"]:
            assert time.monotonic() < deadline, "the id was never forgotten"
        assert sorted(item["detail"]["n"] for item in await served.stored()) == [1, 2]


async def test_past_max_ids_the_oldest_is_forgotten_first(serve: Serve) -> None:
    async with serve(dedupe_max_ids=2) as served, served.start():
        await served.post([event(1, id="a")])
        await served.post([event(2, id="b"), event(3, id="c")])
        assert (await served.post([event(3, id="c")]))[1]["duplicates"] == 1
        assert (await served.post([event(1, id="a")]))[1]["duplicates"] == 0
        assert len(await served.stored()) == 4


async def test_a_refused_put_remembers_nothing(
    serve: Serve, request: pytest.FixtureRequest
) -> None:
    if "sqs" in request.node.name:
        pytest.skip("SQS queues are unbounded: there is no InputFull to test")
    async with serve(max_events=2) as served, served.start():
        status, _ = await served.post([event(n, id=f"id-{n}") for n in range(3)])
        assert status == 503
        status, answer = await served.post([event(0, id="id-0")])
        assert (status, answer["duplicates"]) == (202, 0)
        assert [item["id"] for item in await served.stored()] == ["id-0"]


async def test_dedupe_off_stores_every_post(serve: Serve) -> None:
    async with serve(dedupe_window_s=0) as served, served.start():
        for _ in range(2):
            assert (await served.post([event(1, id="a")]))[1]["duplicates"] == 0
        assert len(await served.stored()) == 2


async def test_the_same_batch_posted_at_once_five_times_is_stored_once(serve: Serve) -> None:
    batch = [event(n, id=f"race-{n}") for n in range(20)]
    async with serve() as served, served.start():
        answers = await asyncio.gather(*(served.post(batch) for _ in range(5)))
        assert [status for status, _ in answers] == [202] * 5
        assert sorted(answer["duplicates"] for _, answer in answers) == [0, 20, 20, 20, 20]
        assert len(await served.stored()) == 20
