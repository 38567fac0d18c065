"""The SQS input beyond the shared suite, against moto: filling fetches, redrive, batching."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from input_factories import moto_session, moto_url

from publisher.core.message import Message
from publisher.inputs.sqs import SqsInput
from publisher.settings import AwsSettings, SqsInputSettings


def body(n: int) -> bytes:
    return orjson.dumps({"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}})


@pytest.fixture
async def admin() -> AsyncIterator[Any]:
    async with moto_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=moto_url()
    ) as client:
        yield client


async def new_queue(admin: Any, **attributes: str) -> str:
    reply = await admin.create_queue(QueueName=f"q-{uuid.uuid4().hex}", Attributes=attributes)
    url: str = reply["QueueUrl"]
    return url


async def open_queue(queue_url: str, visibility_timeout_s: float = 5) -> SqsInput:
    settings = SqsInputSettings(
        kind="sqs",
        queue_url=queue_url,
        endpoint_url=moto_url(),
        visibility_timeout_s=visibility_timeout_s,
    )
    queue = SqsInput(settings, AwsSettings(), session=moto_session())
    await queue.start()
    return queue


async def fetch_n(source: SqsInput, count: int, within_s: float = 5.0) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        got += await source.fetch(count - len(got), wait_s=max(deadline - time.monotonic(), 0))
    return got


async def test_one_fetch_fills_up_to_max_messages_beyond_ten(admin: Any) -> None:
    queue = await open_queue(await new_queue(admin))
    try:
        await queue.put([body(n) for n in range(95)])  # ten SendMessageBatch calls

        started = time.monotonic()
        first = await queue.fetch(60, wait_s=0.25)
        rest = await fetch_n(queue, 95 - len(first))

        # Concurrent receives may each come back short (SQS does not promise full ones), but
        # one fetch must get well beyond a single receive's 10.
        assert 20 <= len(first) <= 60
        assert time.monotonic() - started < 3.0
        numbers = [orjson.loads(m.body)["detail"]["n"] for m in first + rest]
        # SQS delivers at least once: concurrent receives may hand out a message twice (moto
        # does under load), which the pipeline tolerates; none may be missing.
        missing = set(range(95)) - set(numbers)
        if missing:
            extra = await fetch_n(queue, len(missing))
            numbers += [orjson.loads(m.body)["detail"]["n"] for m in extra]
            rest += extra
        assert set(numbers) == set(range(95))
        assert await queue.backlog() == 95
        await queue.ack(first + rest)
        assert await queue.backlog() == 0
    finally:
        await queue.close()


async def test_big_bodies_are_split_into_batches_under_256_kib(admin: Any) -> None:
    queue = await open_queue(await new_queue(admin))
    big = [orjson.dumps({"tenant": "acme", "detail": {"pad": str(n) * 100_000}}) for n in range(5)]
    try:
        await queue.put(big)
        got = await fetch_n(queue, 5)
        assert sorted(m.body for m in got) == sorted(big)
    finally:
        await queue.close()


async def test_with_a_redrive_policy_unparseable_bodies_go_to_the_queues_dlq(admin: Any) -> None:
    dlq_url = await new_queue(admin)
    dlq_arn = (await admin.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"]))[
        "Attributes"
    ]["QueueArn"]
    policy = orjson.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).decode()
    queue = await open_queue(await new_queue(admin, RedrivePolicy=policy))
    try:
        await queue.put([b"not json {", body(1), b'["json", "but not an event"]'])
        handed: list[Message] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            handed += await queue.fetch(10, wait_s=0.25)
            moved = await admin.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0)
            if moved.get("Messages"):
                break

        # Parseable bodies, even invalid events, are the pipeline's to dead-letter.
        assert sorted(m.body for m in handed) == sorted([body(1), b'["json", "but not an event"]'])
        assert [m["Body"] for m in moved["Messages"]] == ["not json {"]
    finally:
        await queue.close()


async def test_without_a_redrive_policy_unparseable_bodies_reach_the_pipeline(admin: Any) -> None:
    queue = await open_queue(await new_queue(admin))
    try:
        await queue.put([b"not json {"])
        got = await fetch_n(queue, 1)
        assert [(m.body, m.deliveries) for m in got] == [(b"not json {", 1)]
    finally:
        await queue.close()


async def test_a_missing_queue_is_unavailable_not_a_crash(admin: Any) -> None:
    from publisher.errors import InputUnavailable

    queue_url = await new_queue(admin)
    queue = await open_queue(queue_url)
    await admin.delete_queue(QueueUrl=queue_url)
    try:
        with pytest.raises(InputUnavailable):
            await queue.fetch(10, wait_s=0)
        with pytest.raises(InputUnavailable):
            await queue.put([body(1)])
    finally:
        await queue.close()
