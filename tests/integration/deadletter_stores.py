"""Every dead-letter store the behaviour suite runs against: one entry in STORE_FACTORIES each.

A factory yields a function that opens a new, started store on the same backing data, as a
second process or another machine with the same config would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

import psycopg
import redis.asyncio
from input_factories import REDIS_URL, moto_session, moto_url

from publisher.deadletters.file import FileDeadLetterStore
from publisher.deadletters.postgres import PostgresDeadLetterStore
from publisher.deadletters.redis import RedisDeadLetterStore
from publisher.deadletters.sqs import SqsDeadLetterStore
from publisher.deadletters.store import DeadLetterStore

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

OpenStore = Callable[[], Awaitable[DeadLetterStore]]
StoreFactory = Callable[[Path], AbstractAsyncContextManager[OpenStore]]


@asynccontextmanager
async def _opener(build: Callable[[], DeadLetterStore]) -> AsyncIterator[OpenStore]:
    async with AsyncExitStack() as stack:

        async def open_store() -> DeadLetterStore:
            store = build()
            await store.start()
            stack.push_async_callback(store.close)
            return store

        yield open_store


@asynccontextmanager
async def file_store(tmp_path: Path) -> AsyncIterator[OpenStore]:
    path = tmp_path / "dead-letters" / "dl.jsonl"
    async with _opener(lambda: FileDeadLetterStore(path)) as open_store:
        yield open_store


@asynccontextmanager
async def redis_store(tmp_path: Path) -> AsyncIterator[OpenStore]:
    stream = f"test-{uuid.uuid4().hex}:dead-letters"
    try:
        async with _opener(lambda: RedisDeadLetterStore(REDIS_URL, stream)) as open_store:
            yield open_store
    finally:
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        await admin.delete(stream, f"{stream}:replayed")
        await admin.aclose()


@asynccontextmanager
async def sqs_store(tmp_path: Path) -> AsyncIterator[OpenStore]:
    url = moto_url()
    async with moto_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=url
    ) as admin:
        queue_url = (await admin.create_queue(QueueName=f"dl-{uuid.uuid4().hex}"))["QueueUrl"]
        try:
            build = lambda: SqsDeadLetterStore(queue_url, "us-east-1", url, moto_session())  # noqa: E731
            async with _opener(build) as open_store:
                yield open_store
        finally:
            await admin.delete_queue(QueueUrl=queue_url)


@asynccontextmanager
async def postgres_store(tmp_path: Path) -> AsyncIterator[OpenStore]:
    table = f"dl_{uuid.uuid4().hex}"
    try:
        async with _opener(lambda: PostgresDeadLetterStore(POSTGRES_DSN, table)) as open_store:
            yield open_store
    finally:
        async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")


STORE_FACTORIES: dict[str, StoreFactory] = {
    "file": file_store,
    "redis": redis_store,
    "sqs": sqs_store,
    "postgres": postgres_store,
}
