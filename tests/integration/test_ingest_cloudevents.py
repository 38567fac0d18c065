"""CloudEvents 1.0 into ingest over real HTTP: structured, batched and binary mode, each
mapping rule and each rejection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest

from publisher.core.tenants import TenantRegistry
from publisher.http.ingest import Ingest
from publisher.inputs.memory import MemoryInput
from publisher.observe.metrics import Metrics
from publisher.settings import IngestSettings, TenantSettings

ROUTER = TenantRegistry(
    {"acme": TenantSettings(account="111122223333", source="aws.partner/example.com/a/o")},
    "us-east-1",
)
STRUCTURED = {"Content-Type": "application/cloudevents+json"}
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def cloudevent(**attributes: Any) -> dict[str, Any]:
    base = {
        "specversion": "1.0",
        "id": "ord-1001",
        "source": "/shop/orders",
        "type": "OrderCreated",
        "tenant": "acme",
        "data": {"order_id": "ord-1001"},
    }
    return {k: v for k, v in {**base, **attributes}.items() if v is not ...}


class Client:
    def __init__(self, url: str, sink: MemoryInput, http: aiohttp.ClientSession) -> None:
        self.url, self.sink, self.http = url, sink, http

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        async with self.http.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.json()

    async def stored(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.body) for m in await self.sink.fetch(1000, wait_s=0)]


@asynccontextmanager
async def served() -> AsyncIterator[Client]:
    sink = MemoryInput()
    ingest = Ingest(IngestSettings(port=0), sink, ROUTER, Metrics())
    await ingest.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Client(f"http://127.0.0.1:{ingest.port}/v1/events", sink, http)
    finally:
        await ingest.stop()


async def test_structured_mode_maps_every_attribute() -> None:
    async with served() as client:
        body = cloudevent(time="2026-11-22T05:00:00Z", subject="order/ord-1001")
        status, answer = await client.post(orjson.dumps(body), STRUCTURED)
        assert (status, answer["accepted"], answer["ids"]) == (202, 1, ["ord-1001"])
        assert await client.stored() == [
            {
                "tenant": "acme",
                "detail_type": "OrderCreated",
                "detail": {"order_id": "ord-1001"},
                "id": "ord-1001",
                "time": "2026-11-22T05:00:00Z",
                "resources": ["order/ord-1001"],
            }
        ]


async def test_without_data_the_detail_is_empty_and_json_types_are_accepted() -> None:
    async with served() as client:
        body = cloudevent(data=..., datacontenttype="application/vnd.shop+json; charset=utf-8")
        assert (await client.post(orjson.dumps(body), STRUCTURED))[0] == 202
        (stored,) = await client.stored()
        assert stored["detail"] == {}
        assert stored.keys() == {"tenant", "detail_type", "detail", "id"}


async def test_batch_mode_accepts_and_rejects_each_event() -> None:
    async with served() as client:
        batch = [cloudevent(id="a"), cloudevent(id="b", tenant=...), cloudevent(id="c")]
        status, answer = await client.post(orjson.dumps(batch), BATCH)
        assert (status, answer["accepted"], answer["ids"]) == (202, 2, ["a", "c"])
        assert answer["rejected"] == [
            {
                "index": 1,
                "error": "tenant: is required: the CloudEvents extension attribute `tenant`",
            }
        ]
        assert [item["id"] for item in await client.stored()] == ["a", "c"]


async def test_binary_mode_reads_the_headers_and_the_body_is_data() -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "ord-7",
        "ce-source": "/shop/orders",
        "ce-type": "OrderShipped",
        "ce-tenant": "acme",
        "ce-time": "2026-11-22T05:00:00+01:00",
        "ce-subject": "order/caf%C3%A9",  # percent-encoded, as the HTTP binding says
        "Content-Type": "application/json",
    }
    async with served() as client:
        status, answer = await client.post(b'{"order_id": "ord-7"}', headers)
        assert (status, answer["ids"]) == (202, ["ord-7"])
        assert await client.stored() == [
            {
                "tenant": "acme",
                "detail_type": "OrderShipped",
                "detail": {"order_id": "ord-7"},
                "id": "ord-7",
                "time": "2026-11-22T05:00:00+01:00",
                "resources": ["order/café"],
            }
        ]


async def test_a_cloudevent_posted_again_is_a_duplicate() -> None:
    async with served() as client:
        body = orjson.dumps(cloudevent())
        answers = [await client.post(body, STRUCTURED) for _ in range(2)]
        assert [answer["duplicates"] for _, answer in answers] == [0, 1]
        assert len(await client.stored()) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (cloudevent(tenant=...), "tenant: is required"),
        (cloudevent(specversion="0.3"), "specversion: '0.3' is not supported; use 1.0"),
        (cloudevent(specversion=...), "specversion: is required"),
        (cloudevent(datacontenttype="text/plain", data="hi"), "data: must be JSON, not text/plain"),
        (cloudevent(data=..., data_base64="aGk="), "data: must be JSON, not binary"),
        (cloudevent(data=[1, 2]), "data: must be a JSON object, not an array"),
        (cloudevent(type=...), "type: is required"),
        (cloudevent(subject=None), "subject: must be a string"),
        (cloudevent(time="yesterday"), "time: 'yesterday' is not an RFC 3339 timestamp"),
    ],
    ids=[
        "tenant",
        "specversion",
        "no-specversion",
        "text",
        "base64",
        "array",
        "type",
        "null",
        "time",
    ],
)
async def test_structured_rejections_are_400_with_the_reason(body: Any, error: str) -> None:
    async with served() as client:
        status, answer = await client.post(orjson.dumps(body), STRUCTURED)
        assert (status, answer["error"]) == (400, "no valid events")
        assert answer["rejected"][0]["error"].startswith(error)
        assert await client.stored() == []


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        ({"Content-Type": "text/plain"}, b"hello", "data: must be JSON"),
        ({"Content-Type": "application/json"}, b"{not json", "data: must be JSON"),
        ({"Content-Type": "application/json", "ce-tenant": ""}, b"{}", "tenant: is required"),
        ({"Content-Type": "application/json", "ce-specversion": "0.3"}, b"{}", "specversion"),
    ],
    ids=["text", "not-json", "no-tenant", "specversion"],
)
async def test_binary_rejections_are_400_with_the_reason(
    headers: dict[str, str], body: bytes, error: str
) -> None:
    base = {"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "T"}
    base["ce-tenant"] = "acme"
    async with served() as client:
        status, answer = await client.post(body, {**base, **headers})
        assert (status, answer["error"]) == (400, "no valid events")
        assert answer["rejected"][0]["error"].startswith(error)


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b"{no", STRUCTURED, "the body is not JSON"),
        (b"[]", STRUCTURED, "a structured CloudEvent is a JSON object, not an array"),
        (orjson.dumps(cloudevent()), BATCH, "a CloudEvents batch is a JSON array, not an object"),
        (b"[]", BATCH, "the CloudEvents batch is empty"),
    ],
)
async def test_malformed_bodies_are_400(body: bytes, headers: dict[str, str], error: str) -> None:
    async with served() as client:
        status, answer = await client.post(body, headers)
        assert status == 400
        assert answer["error"].startswith(error)
