"""Inputs on the local PostgreSQL and RabbitMQ, each on a fresh table or queue removed afterwards
(the servers are started by .ci/services.sh)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import aio_pika
import psycopg

from publisher.inputs.amqp import AmqpInput
from publisher.inputs.outbox_sql import OutboxSql
from publisher.inputs.postgres import PostgresOutboxInput
from publisher.settings import AmqpInputSettings, PostgresInputSettings

if TYPE_CHECKING:
    from input_factories import InputOptions, OpenedInput

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


async def install_outbox(table: str, dsn: str = POSTGRES_DSN) -> None:
    sql = OutboxSql(table)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql.ddl())


async def drop_outbox(table: str, dsn: str = POSTGRES_DSN) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.execute(f"DROP FUNCTION IF EXISTS {table}_notify()")


@asynccontextmanager
async def postgres_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    from input_factories import OpenedInput

    table = unique_name("test_outbox")
    await install_outbox(table)
    settings = PostgresInputSettings(
        kind="postgres",
        dsn=POSTGRES_DSN,  # type: ignore[arg-type]  # pydantic makes it a SecretStr
        table=table,
        visibility_timeout_s=options.visibility_timeout_s,
        poll_interval_s=0.2,
        max_events=options.max_events,
    )
    outbox = PostgresOutboxInput(settings)
    await outbox.start()
    try:
        yield OpenedInput(outbox, options.visibility_timeout_s, exact_bodies=False)
    finally:
        await outbox.close()
        await drop_outbox(table)


async def delete_queue(name: str, url: str = AMQP_URL) -> None:
    connection = await aio_pika.connect(url)
    async with connection, connection.channel() as channel:
        await channel.queue_delete(name)


@asynccontextmanager
async def amqp_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    from input_factories import OpenedInput

    queue = unique_name("test-queue")
    settings = AmqpInputSettings(
        kind="amqp",
        url=AMQP_URL,  # type: ignore[arg-type]  # pydantic makes it a SecretStr
        queue=queue,
        visibility_timeout_s=options.visibility_timeout_s,
        max_events=options.max_events,
    )
    amqp = AmqpInput(settings)
    await amqp.start()
    try:
        yield OpenedInput(amqp, options.visibility_timeout_s)
    finally:
        await amqp.close()
        await delete_queue(queue)
