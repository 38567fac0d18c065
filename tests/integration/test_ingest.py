"""HTTP ingest over real HTTP against the memory input and the SQLite spool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from input_factories import INPUT_FACTORIES, InputOptions

from publisher.core.event import decode_event
from publisher.core.message import Message, ValidatedMessage
from publisher.core.tenants import TenantRegistry
from publisher.errors import InputUnavailable
from publisher.http.ingest import MAX_REPORTED_REJECTIONS, Ingest
from publisher.inputs.base import Input, ValidatedPuts
from publisher.inputs.memory import MemoryInput
from publisher.observe.metrics import Metrics
from publisher.settings import IngestSettings, TenantSettings

SOURCE = "aws.partner/example.com/acme/orders"
TENANTS = TenantRegistry(
    {
        "acme": TenantSettings(account="111122223333", source=SOURCE),
        "globex": TenantSettings(account="444455556666", source="aws.partner/example.com/gx/x"),
    },
    "us-east-1",
)
NDJSON = {"Content-Type": "application/x-ndjson"}


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}, **extra}


def ndjson(*items: Any) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def summary(answer: dict[str, Any]) -> dict[str, Any]:
    """A 202 answer without the ids generated for events that came without one."""
    assert len(answer["ids"]) == answer["accepted"]
    return {key: value for key, value in answer.items() if key != "ids"}


def stored_as(answer: dict[str, Any], *items: dict[str, Any]) -> list[bytes]:
    """The bodies ingest stores for accepted items without ids: each with its generated id."""
    return [
        orjson.dumps({**item, "id": id_}) for item, id_ in zip(items, answer["ids"], strict=True)
    ]


@dataclass
class Served:
    ingest: Ingest
    sink: Input
    metrics: Metrics
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ingest.port}/v1/events"

    async def post(
        self, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        # aiohttp sends bytes as application/octet-stream, which ingest refuses (415).
        headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.http.post(self.url, data=body, headers=headers) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json(), response

    async def stored(self) -> list[bytes]:
        messages: list[Message] = await self.sink.fetch(100_000, wait_s=0)
        return [m.body for m in messages]

    def requests(self, code: int) -> float:
        value = self.metrics.registry.get_sample_value(
            "publisher_ingest_requests_total", {"code": str(code)}
        )
        return value or 0.0


Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture(params=[name for name in ("memory", "spool") if name in INPUT_FACTORIES])
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Serve:
    """`async with serve(token=..., max_events=...) as served:` ingest over a fresh input."""
    factory = INPUT_FACTORIES[request.param]

    @asynccontextmanager
    async def open_served(max_events: int | None = None, **settings: Any) -> AsyncIterator[Served]:
        options = InputOptions(tmp_path, visibility_timeout_s=30, max_events=max_events)
        async with factory(options) as opened:
            metrics = Metrics()
            ingest = Ingest(IngestSettings(port=0, **settings), opened.input, TENANTS, metrics)
            await ingest.start()
            try:
                async with aiohttp.ClientSession() as http:
                    yield Served(ingest, opened.input, metrics, http)
            finally:
                await ingest.stop()

    return open_served


async def test_single_object_is_stored_reencoded(serve: Serve) -> None:
    async with serve() as served:
        body = b'{ "tenant": "acme",\n  "detail_type": "OrderCreated", "detail": {"n": 1} }'
        status, answer, _ = await served.post(body)
        assert (status, summary(answer)) == (202, {"accepted": 1, "duplicates": 0, "rejected": []})
        assert await served.stored() == stored_as(answer, event(1))
        assert await served.sink.backlog() == 1


async def test_array_is_stored_in_order(serve: Serve) -> None:
    async with serve() as served:
        status, answer, _ = await served.post(orjson.dumps([event(1), event(2), event(3)]))
        assert (status, summary(answer)) == (202, {"accepted": 3, "duplicates": 0, "rejected": []})
        assert await served.stored() == stored_as(answer, event(1), event(2), event(3))


@pytest.mark.parametrize("headers", [NDJSON, {}], ids=["content-type", "detected"])
async def test_ndjson_is_stored_line_by_line(serve: Serve, headers: dict[str, str]) -> None:
    async with serve() as served:
        body = ndjson(event(1), event(2)) + b"\r\n  \n" + orjson.dumps(event(3)) + b"\r\n"
        status, answer, _ = await served.post(body, headers)
        assert (status, summary(answer)) == (202, {"accepted": 3, "duplicates": 0, "rejected": []})
        assert await served.stored() == stored_as(answer, event(1), event(2), event(3))


async def test_mixed_items_report_rejected_indexes(serve: Serve) -> None:
    items: list[Any] = [
        event(0),
        5,
        event(2, tenant="nobody"),
        {"tenant": "acme", "detail": {}},
        event(4, source="aws.partner/example.com/gx/x"),
        event(5, colour="red"),
        event(6),
    ]
    async with serve() as served:
        status, answer, _ = await served.post(orjson.dumps(items))
        assert status == 202
        assert summary(answer) == {
            "accepted": 2,
            "duplicates": 0,
            "rejected": [
                {"index": 1, "error": "event: must be a JSON object, not a number"},
                {"index": 2, "error": "tenant: unknown tenant 'nobody'"},
                {"index": 3, "error": "detail_type: is required"},
                {
                    "index": 4,
                    "error": "source: 'aws.partner/example.com/gx/x' is not the source of "
                    "tenant 'acme'",
                },
                {
                    "index": 5,
                    "error": "colour: unknown field (fields: detail, detail_type, id, "
                    "resources, source, tenant, time)",
                },
            ],
        }
        assert await served.stored() == stored_as(answer, event(0), event(6))
        events = served.metrics.registry.get_sample_value
        assert events("publisher_ingest_events_total", {"outcome": "accepted"}) == 2
        assert events("publisher_ingest_events_total", {"outcome": "rejected"}) == 5


async def test_ndjson_bad_lines_are_rejected_items(serve: Serve) -> None:
    body = ndjson(event(0)) + b'{"tenant": \n[1]\n' + ndjson(event(3))
    async with serve() as served:
        status, answer, _ = await served.post(body, NDJSON)
        assert status == 202
        assert answer["accepted"] == 2
        assert [r["index"] for r in answer["rejected"]] == [1, 2]
        assert answer["rejected"][0]["error"].startswith("event: not valid JSON")
        assert answer["rejected"][1]["error"] == "event: must be a JSON object, not an array"
        assert await served.sink.backlog() == 2


MALFORMED = {
    "empty": b"",
    "blank": b"  \n\r\n ",
    "text": b"hello world",
    "truncated": b'{"tenant": "acme", "detail_type": "X", "detail": {',
    "invalid-utf8": b'{"tenant": "\xff\xfe", "detail_type": "X", "detail": {}}',
    "binary": bytes(range(256)) * 4,
    "number": b"42",
    "string": b'"an event"',
    "null": b"null",
    "empty-array": b"[]",
    "nested-past-parser-limit": b"[" * 5000 + b"]" * 5000,
    "huge-float": b'{"tenant": "acme", "detail_type": "X", "detail": {"x": 1e400}}',
    "nan": b'{"tenant": "acme", "detail_type": "X", "detail": {"x": NaN}}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_body_is_400_and_stores_nothing(serve: Serve, body: bytes) -> None:
    async with serve() as served:
        status, answer, _ = await served.post(body)
        assert status == 400
        assert isinstance(answer["error"], str)
        assert answer["error"]
        assert await served.sink.backlog() == 0


HOPELESS = {
    "all-invalid": (orjson.dumps([1, {"tenant": "acme"}]), "event: must be a JSON object"),
    "int-past-64-bits": (
        orjson.dumps(event(0))[:-2] + b', "big": 123456789012345678901234567890}}',
        "detail: holds an integer outside the signed 64-bit range",
    ),
    "int-past-64-bits-in-array": (
        b"[" + orjson.dumps(event(0))[:-2] + b', "big": -9223372036854775809}}]',
        "detail: holds an integer outside the signed 64-bit range",
    ),
    "detail-nested-past-aws-limit": (
        b'{"tenant": "acme", "detail_type": "X", "detail": '
        + b'{"a":' * 1000
        + b"{}"
        + b"}" * 1001,
        "detail: nests deeper than 1000 levels",
    ),
    "unknown-tenant-ndjson": (ndjson(event(0, tenant="x"), event(1, tenant="y")), "tenant:"),
}


@pytest.mark.parametrize(("body", "error"), HOPELESS.values(), ids=HOPELESS.keys())
async def test_no_valid_item_is_400_with_reasons(serve: Serve, body: bytes, error: str) -> None:
    async with serve() as served:
        status, answer, _ = await served.post(body)
        assert status == 400
        assert answer["error"] == "no valid events"
        assert answer["accepted"] == 0
        assert answer["rejected"][0]["index"] == 0
        assert answer["rejected"][0]["error"].startswith(error)
        assert await served.sink.backlog() == 0


async def test_exact_integers_within_64_bits_are_kept(serve: Serve) -> None:
    big = 9_223_372_036_854_775_807
    async with serve() as served:
        status, answer, _ = await served.post(orjson.dumps([event(0, detail={"big": big})]))
        assert (status, answer["accepted"]) == (202, 1)
        assert orjson.loads((await served.stored())[0])["detail"]["big"] == big


async def test_rejections_listed_are_bounded(serve: Serve) -> None:
    async with serve() as served:
        status, answer, _ = await served.post(orjson.dumps([event(0)] + [1] * 5000))
        assert status == 202
        assert answer["accepted"] == 1
        assert len(answer["rejected"]) == MAX_REPORTED_REJECTIONS
        assert answer["rejected_count"] == 5000


@pytest.mark.parametrize("shape", ["ndjson", "array"])
async def test_large_bodies_are_decoded_whole_and_in_order(serve: Serve, shape: str) -> None:
    """Bodies past one slice (SLICE_ITEMS); two at once do not mix."""
    items: list[Any] = [event(n) for n in range(1800)]
    items[499] = items[500] = items[1799] = 7
    encode = ndjson if shape == "ndjson" else (lambda *x: orjson.dumps(list(x)))
    first, second = encode(*items), encode(*[event(n) for n in range(1800, 3000)])
    async with serve() as served:
        answers = await asyncio.gather(served.post(first), served.post(second))
        assert [status for status, _, _ in answers] == [202, 202]
        assert answers[0][1]["accepted"] == 1797
        assert [r["index"] for r in answers[0][1]["rejected"]] == [499, 500, 1799]
        assert summary(answers[1][1]) == {"accepted": 1200, "duplicates": 0, "rejected": []}
        stored = sorted(orjson.loads(body)["detail"]["n"] for body in await served.stored())
        assert stored == [n for n in range(3000) if n not in (499, 500, 1799)]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic s3cret-token", "Bearer", "Bearer s3cret-token-and-more"],
)
async def test_token_missing_or_wrong_is_401(serve: Serve, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with serve(token="s3cret-token") as served:
        status, answer, response = await served.post(ndjson(event(1)), headers)
        assert status == 401
        assert "token" in answer["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert await served.sink.backlog() == 0


async def test_right_token_is_accepted(serve: Serve) -> None:
    async with serve(token="s3cret-token") as served:
        headers = {"Authorization": "Bearer s3cret-token"}
        status, answer, _ = await served.post(ndjson(event(1)), headers)
        assert (status, answer["accepted"]) == (202, 1)
        assert await served.sink.backlog() == 1


async def test_body_over_limit_is_413(serve: Serve) -> None:
    async with serve(max_body_bytes=4096) as served:
        at_limit = orjson.dumps(event(0, detail={"pad": ""}))
        at_limit = orjson.dumps(event(0, detail={"pad": "x" * (4096 - len(at_limit))}))
        assert len(at_limit) == 4096
        status, _, _ = await served.post(at_limit)
        assert status == 202

        status, answer, _ = await served.post(at_limit + b" ")
        assert status == 413
        assert "4096" in answer["error"]
        assert await served.sink.backlog() == 1
        assert served.requests(413) == 1


async def test_streamed_body_over_limit_is_413(serve: Serve) -> None:
    """Without Content-Length the limit is enforced while reading, before the end arrives."""

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(200):
            yield ndjson(*[event(n)] * 10)

    async with serve(max_body_bytes=8192) as served:
        async with served.http.post(served.url, data=chunks(), headers=NDJSON) as response:
            assert response.status == 413
            assert "8192" in (await response.json())["error"]
        assert await served.sink.backlog() == 0


async def test_full_input_is_503_with_retry_after_and_stores_nothing(serve: Serve) -> None:
    async with serve(max_events=3) as served:
        status, _, _ = await served.post(ndjson(event(1), event(2)))
        assert status == 202
        status, answer, response = await served.post(ndjson(event(3), event(4)))
        assert (status, answer) == (503, {"error": "full"})
        assert response.headers["Retry-After"] == "1"
        assert await served.sink.backlog() == 2
        status, _, _ = await served.post(ndjson(event(3)))
        assert status == 202


async def test_draining_is_503_for_every_post(serve: Serve) -> None:
    async with serve() as served:
        served.ingest.start_draining()
        for body in (ndjson(event(1)), b"not json"):
            status, answer, _ = await served.post(body)
            assert (status, answer) == (503, {"error": "draining"})
        assert await served.sink.backlog() == 0
        assert served.requests(503) == 2


async def test_other_methods_are_405_and_other_paths_404(serve: Serve) -> None:
    async with serve() as served:
        for method in ("GET", "PUT", "DELETE"):
            async with served.http.request(method, served.url) as response:
                assert response.status == 405
                assert response.headers["Allow"] == "POST"
                assert "error" in await response.json()
        base = f"http://127.0.0.1:{served.ingest.port}"
        for path in ("/", "/v1/event", "/v2/events", "/v1/events/x"):
            async with served.http.post(base + path, data=ndjson(event(1))) as response:
                assert response.status == 404
                assert "error" in await response.json()
        assert await served.sink.backlog() == 0


async def test_ingest_stop_releases_the_port(serve: Serve) -> None:
    async with serve() as served:
        url = served.url
        await served.ingest.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with served.http.post(url, data=ndjson(event(1)), headers=NDJSON):
                pass


async def test_an_input_with_the_validated_lane_gets_the_events_along(serve: Serve) -> None:
    async with serve() as served:
        status, answer, _ = await served.post(ndjson(event(1), event(2)))
        assert status == 202
        got = await served.sink.fetch(10, wait_s=0)
        assert [m.body for m in got] == stored_as(answer, event(1), event(2))
        if isinstance(served.sink, ValidatedPuts):  # the spool: its consumer skips a decode
            assert all(isinstance(m, ValidatedMessage) for m in got)
            assert [m.event for m in got if isinstance(m, ValidatedMessage)] == [
                decode_event(m.body) for m in got
            ]
        else:
            assert not any(isinstance(m, ValidatedMessage) for m in got)


class BrokenInput(MemoryInput):
    """A memory input whose put fails with the given error."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def put(self, bodies: Sequence[bytes]) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "answer"),
    [
        (InputUnavailable("down"), 503, {"error": "unavailable"}),
        (RuntimeError("bug"), 500, {"error": "the events could not be stored"}),
    ],
)
async def test_input_failures_are_answered(
    error: Exception, status: int, answer: dict[str, str]
) -> None:
    ingest = Ingest(IngestSettings(port=0), BrokenInput(error), TENANTS, Metrics())
    await ingest.start()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{ingest.port}/v1/events"
            async with http.post(url, data=ndjson(event(1)), headers=NDJSON) as response:
                assert response.status == status
                assert await response.json() == answer
    finally:
        await ingest.stop()


async def test_detail_nested_deeper_than_orjson_encodes_is_accepted(serve: Serve) -> None:
    """AWS allows 1000 levels; orjson encodes about 254, so the model falls back."""
    deep = (
        b'{"tenant": "acme", "detail_type": "X", "detail": ' + b'{"a":' * 400 + b"{}" + b"}" * 401
    )
    async with serve() as served:
        status, answer, _ = await served.post(b"[" + deep + b"]")
    assert status == 202
    assert answer["accepted"] == 1
