"""Every Input the behaviour suite runs against: add a backend with one entry in INPUT_FACTORIES."""

from __future__ import annotations

import atexit
import math
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio
from aiobotocore.session import AioSession
from moto.server import ThreadedMotoServer
from service_inputs import amqp_input, postgres_input

from publisher.inputs.base import Input
from publisher.inputs.lanes import LanedInput
from publisher.inputs.memory import MemoryInput
from publisher.inputs.redis_streams import RedisStreamsInput, dedupe_set
from publisher.inputs.spool.input import SpoolInput
from publisher.inputs.sqs import SqsInput
from publisher.settings import (
    AwsSettings,
    RedisInputSettings,
    SpoolInputSettings,
    SqsInputSettings,
)
from tests.conftest import LOCAL_REDIS_URL

REDIS_URL = LOCAL_REDIS_URL


@dataclass(frozen=True)
class InputOptions:
    """What a test asks of the input; a factory may round visibility_timeout_s up."""

    tmp_path: Path
    visibility_timeout_s: float = 0.5
    max_events: int | None = None


@dataclass(frozen=True)
class OpenedInput:
    input: Input
    visibility_timeout_s: float
    """The timeout the input really uses, so tests wait long enough."""
    exact_bodies: bool = True
    """False where the store keeps the JSON value, not its text (PostgreSQL's jsonb)."""


InputFactory = Callable[[InputOptions], AbstractAsyncContextManager[OpenedInput]]


@asynccontextmanager
async def memory_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    memory = MemoryInput(options.visibility_timeout_s, max_events=options.max_events)
    await memory.start()
    try:
        yield OpenedInput(memory, options.visibility_timeout_s)
    finally:
        await memory.close()


@asynccontextmanager
async def spool_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    settings = SpoolInputSettings(
        path=options.tmp_path / "spool" / "spool.db",
        visibility_timeout_s=options.visibility_timeout_s,
        max_events=options.max_events or 1_000_000,
    )
    spool = SpoolInput(settings, consumer=True)
    await spool.start()
    try:
        yield OpenedInput(spool, options.visibility_timeout_s)
    finally:
        await spool.close()


@asynccontextmanager
async def redis_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    """A fresh stream on the local Redis (127.0.0.1:6379), deleted afterwards."""
    settings = RedisInputSettings(
        kind="redis",
        url=REDIS_URL,
        stream=f"test-{uuid.uuid4().hex}",
        consumer="behaviour",
        visibility_timeout_s=options.visibility_timeout_s,
        max_events=options.max_events,
    )
    stream = RedisStreamsInput(settings)
    await stream.start()
    try:
        yield OpenedInput(stream, options.visibility_timeout_s)
    finally:
        await stream.close()
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        await admin.delete(settings.stream, dedupe_set(settings.stream))
        await admin.aclose()


_moto: dict[str, str] = {}


def moto_url() -> str:
    """One in-process moto server for the test session, on a free port."""
    if "url" not in _moto:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        atexit.register(server.stop)
        host, port = server.get_host_and_port()
        _moto["url"] = f"http://{host}:{port}"
    return _moto["url"]


def moto_session() -> AioSession:
    """A session with moto's fake credentials, without touching the environment."""
    session = AioSession()
    session.set_credentials("testing", "testing")
    return session


@asynccontextmanager
async def sqs_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    """A fresh queue on moto. SQS counts visibility in whole seconds and has no size bound."""
    if options.max_events is not None:
        pytest.skip("SQS queues are unbounded: there is no InputFull to test")
    visibility_s = float(max(1, math.ceil(options.visibility_timeout_s)))
    url = moto_url()
    async with moto_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=url
    ) as admin:
        name = f"test-{uuid.uuid4().hex}"
        queue_url = (await admin.create_queue(QueueName=name))["QueueUrl"]
        settings = SqsInputSettings(
            kind="sqs",
            queue_url=queue_url,
            endpoint_url=url,
            visibility_timeout_s=visibility_s,
        )
        queue = SqsInput(settings, AwsSettings(), session=moto_session())
        await queue.start()
        try:
            yield OpenedInput(queue, visibility_s)
        finally:
            await queue.close()
            await admin.delete_queue(QueueUrl=queue_url)


@asynccontextmanager
async def redis_lanes_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    """Two fresh streams read as lanes (`input.streams`), acme routed to the second."""
    names = [f"test-{uuid.uuid4().hex}" for _ in range(2)]
    streams = [
        RedisStreamsInput(
            RedisInputSettings(
                kind="redis",
                url=REDIS_URL,
                stream=name,
                consumer="behaviour",
                visibility_timeout_s=options.visibility_timeout_s,
                max_events=options.max_events,
            )
        )
        for name in names
    ]
    laned = LanedInput(streams, names, {"acme": names[1]})
    await laned.start()
    try:
        yield OpenedInput(laned, options.visibility_timeout_s)
    finally:
        await laned.close()
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        await admin.delete(*names)
        await admin.aclose()


@asynccontextmanager
async def sqs_lanes_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    """Two fresh queues on moto read as lanes (`input.queue_urls`), acme routed to the second."""
    if options.max_events is not None:
        pytest.skip("SQS queues are unbounded: there is no InputFull to test")
    visibility_s = float(max(1, math.ceil(options.visibility_timeout_s)))
    url = moto_url()
    async with moto_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=url
    ) as admin:
        urls = [
            (await admin.create_queue(QueueName=f"test-{uuid.uuid4().hex}"))["QueueUrl"]
            for _ in range(2)
        ]
        queues = [
            SqsInput(
                SqsInputSettings(
                    kind="sqs",
                    queue_url=queue_url,
                    endpoint_url=url,
                    visibility_timeout_s=visibility_s,
                ),
                AwsSettings(),
                session=moto_session(),
            )
            for queue_url in urls
        ]
        laned = LanedInput(queues, urls, {"acme": urls[1]})
        await laned.start()
        try:
            yield OpenedInput(laned, visibility_s)
        finally:
            await laned.close()
            for queue_url in urls:
                await admin.delete_queue(QueueUrl=queue_url)


INPUT_FACTORIES: dict[str, InputFactory] = {
    "memory": memory_input,
    "spool": spool_input,
    "redis": redis_input,
    "redis_lanes": redis_lanes_input,
    "sqs": sqs_input,
    "sqs_lanes": sqs_lanes_input,
    "postgres": postgres_input,
    "amqp": amqp_input,
}
