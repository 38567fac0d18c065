"""Daemons on a RabbitMQ queue as processes: two replicas, one SIGKILLed mid-run; ingest and
enqueue with publisher confirms; messages that are not JSON."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aio_pika

from tests.conftest import emulator_process, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    emulator_events,
    enqueue,
    event_lines,
    input_config,
    kill_at_work,
    start_replicas,
)

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
VISIBILITY_S = 3.0


def amqp_source(queue: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "amqp", "url": AMQP_URL, "queue": queue, "prefetch": 100, **extra}


def queue_counts(queue: str) -> tuple[int, int]:
    """(ready messages, consumers) as the broker reports them."""

    async def declare() -> tuple[int, int]:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection, connection.channel() as channel:
            declared = await channel.declare_queue(queue, passive=True)
            result = declared.declaration_result
            return int(result.message_count or 0), int(result.consumer_count or 0)

    return asyncio.run(declare())


def delete_queues(*names: str) -> None:
    async def delete() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection, connection.channel() as channel:
            for name in names:
                await channel.queue_delete(name)

    asyncio.run(delete())


def published(url: str) -> Counter[int]:
    return Counter(event["detail"]["n"] for event in emulator_events(url))


def test_two_replicas_share_a_queue_and_a_killed_ones_deliveries_come_back(
    tmp_path: Path,
) -> None:
    total, prefetch = 4000, 100
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    replicas: list[Daemon] = []
    try:
        with emulator_process(LENIENT, "--latency-ms", "100") as url:
            sources = [amqp_source(queue, visibility_timeout_s=VISIBILITY_S)] * 2
            start_replicas(
                replicas, tmp_path, url, sources, publish={"max_in_flight": 2, "linger_ms": 5}
            )
            summary = enqueue(replicas[0].config, event_lines(range(total)), tmp_path)
            assert summary["enqueued"] == total

            kill_at_work(
                replicas[0], "publisher_events_published_total", 15, "the first replica to publish"
            )
            assert len(published(url)) < total, "the kill came too late to prove anything"

            wait_until(lambda: set(published(url)) == set(range(total)), 60, "every event")
            wait_until(lambda: queue_counts(queue) == (0, 1), 10, "the queue to be drained")
            seen = published(url)
            # Acks are sent after settling: wait until the survivor has none left unsent.
            survivor = replicas[1]
            wait_until(lambda: survivor.metric("publisher_buffered_events") == 0, 10, "all settled")
    finally:
        for replica in replicas:
            replica.stop()
        delete_queues(queue)
    # The broker gave the killed replica's unacked deliveries (at most its prefetch) back.
    assert sum(seen.values()) - total <= prefetch


def test_ingest_answers_202_after_the_broker_confirmed_and_the_daemon_publishes(
    tmp_path: Path,
) -> None:
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    try:
        with emulator_process(LENIENT) as url:
            config = input_config(tmp_path, url, amqp_source(queue))
            with daemon(config) as proc:
                status, reply = proc.post(event_lines(range(50)).encode())
                assert (status, reply["accepted"]) == (202, 50)
                wait_until(lambda: set(published(url)) == set(range(50)), 15, "50 events")
                wait_until(lambda: queue_counts(queue)[0] == 0, 10, "the queue to be drained")
    finally:
        delete_queues(queue)


def test_messages_that_are_not_json_go_to_the_dead_letter_exchange(tmp_path: Path) -> None:
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    dead = f"{queue}-dead"

    async def dead_letter_route() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection, connection.channel() as channel:
            exchange = await channel.declare_exchange(dead, aio_pika.ExchangeType.FANOUT)
            parked = await channel.declare_queue(dead, durable=True)
            await parked.bind(exchange)

    asyncio.run(dead_letter_route())
    try:
        with emulator_process(LENIENT) as url:
            source = amqp_source(queue, dead_letter_exchange=dead)
            config = input_config(tmp_path, url, source, ingest={"enabled": False})
            summary = enqueue(config, event_lines(range(20)) + "not json\n", tmp_path)
            assert summary["enqueued"] == 21
            with daemon(config):
                wait_until(lambda: set(published(url)) == set(range(20)), 15, "20 events")
                wait_until(lambda: queue_counts(dead)[0] == 1, 10, "the rejected message")
    finally:
        delete_queues(queue, dead)


def test_without_a_dead_letter_exchange_the_daemon_dead_letters_them(tmp_path: Path) -> None:
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    try:
        with emulator_process(LENIENT) as url:
            config = input_config(tmp_path, url, amqp_source(queue), ingest={"enabled": False})
            enqueue(config, event_lines(range(5)) + "not json\n", tmp_path)
            with daemon(config) as proc:
                wait_until(lambda: set(published(url)) == set(range(5)), 15, "5 events")
                wait_until(
                    lambda: proc.metric("publisher_events_dead_lettered_total") == 1,
                    10,
                    "the line that is not JSON to be dead-lettered",
                )
                wait_until(lambda: queue_counts(queue)[0] == 0, 10, "the queue to be drained")
        records = (tmp_path / "dead-letters.jsonl").read_text().splitlines()
        assert len(records) == 1
        assert '"reason":"invalid_json"' in records[0].replace(" ", "")
    finally:
        delete_queues(queue)
