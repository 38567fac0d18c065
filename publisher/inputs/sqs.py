"""Amazon SQS input: each message body is one event's JSON; leases are SQS visibility timeouts.

How the Input protocol maps onto a queue:

- fetch: ReceiveMessage long polling (WaitTimeSeconds = the caller's wait rounded up to whole
  seconds, at most `wait_time_s`) for up to 10 messages; when a receive comes back full, more
  receives without waiting run FILL_CONCURRENCY at a time until `max_messages` are leased or
  the queue has no more. `deliveries` is ApproximateReceiveCount, `enqueued_at` SentTimestamp.
  Message.id is the receipt handle (a new one on every receive).
- ack: DeleteMessageBatch; extend: ChangeMessageVisibilityBatch to the visibility timeout;
  release(delay_s): ChangeMessageVisibilityBatch to delay_s rounded up to whole seconds (0: at
  once). SQS counts visibility in whole seconds, so the timeout is rounded up too.
- backlog: ApproximateNumberOfMessages + ...NotVisible + ...Delayed (approximate, as SQS says).
- put: SendMessageBatch, 10 messages and at most 256 KiB per call, in order; entries that fail
  are sent once more, then the put raises InputUnavailable. Queues are unbounded: no InputFull.

Bodies that are not even JSON and the queue's redrive policy: when the queue has a
RedrivePolicy, such a message is not handed to the pipeline (which would dead-letter it and
delete it) but made visible again at once, so SQS itself moves it to the queue's dead-letter
queue after maxReceiveCount receives, where the owner of the queue expects it. Without a
redrive policy it goes to the pipeline and becomes a dead letter (`invalid_json`) like on every
other input. With a redrive policy, note that every redelivery counts towards maxReceiveCount:
crashes, leases that ran out and events held for a PENDING source (`sources.pending: hold`)
too, so keep maxReceiveCount well above the redeliveries you expect.

A ReceiveMessage cancelled while it waits (shutdown) may have leased messages nobody sees;
they come back after the visibility timeout.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import orjson
import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError

from publisher.core.message import Message
from publisher.errors import InputUnavailable
from publisher.inputs.base import Deadline, parses_as_json, renew_interval_s
from publisher.settings import AwsSettings, SqsInputSettings

log = structlog.get_logger(__name__)

BATCH_ENTRIES = 10
SEND_BATCH_BYTES = 262_144
FILL_CONCURRENCY = 8
MAX_VISIBILITY_S = 43_200
RECEIVE_ATTRIBUTES = ["ApproximateReceiveCount", "SentTimestamp"]
BACKLOG_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


class SqsInput:
    """Implements the Input protocol over one SQS queue with one aiobotocore client."""

    def __init__(
        self, settings: SqsInputSettings, aws: AwsSettings, session: AioSession | None = None
    ) -> None:
        self._settings = settings
        self._region = settings.region or aws.region
        self._session = session or AioSession(profile=aws.profile)
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._vt_s = math.ceil(settings.visibility_timeout_s)
        self._max_receive_count: int | None = None
        self._queue_checked = False

    @property
    def lease_renew_s(self) -> float:
        return renew_interval_s(self._settings.visibility_timeout_s)

    @property
    def queue_url(self) -> str:
        return self._settings.queue_url

    async def start(self) -> None:
        """Create the client and read the queue's redrive policy (again on fetch if down now)."""
        if self._client is not None:
            return
        config = AioConfig(
            retries={"mode": "standard", "total_max_attempts": 3},
            connect_timeout=3,
            read_timeout=self._settings.wait_time_s + 10,
            max_pool_connections=FILL_CONCURRENCY * 2,
        )
        self._client = await self._stack.enter_async_context(
            self._session.create_client(
                "sqs",
                region_name=self._region,
                endpoint_url=self._settings.endpoint_url,
                config=config,
            )
        )
        try:
            await self._check_queue()
        except InputUnavailable as exc:
            log.warning("sqs_unavailable_at_start", error=str(exc))
        log.info(
            "sqs_input_started",
            queue_url=self.queue_url,
            region=self._region,
            max_receive_count=self._max_receive_count,
        )

    async def close(self) -> None:
        """Close the client; leased messages come back after their visibility timeout."""
        await self._stack.aclose()
        self._client = None

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Send every body, in order, 10 (and at most 256 KiB) per call."""
        for chunk in _send_chunks(bodies):
            entries = [
                {"Id": str(index), "MessageBody": body.decode("utf-8")}
                for index, body in enumerate(chunk)
            ]
            failed = await self._send_batch(entries)
            if failed:
                failed = await self._send_batch([e for e in entries if e["Id"] in failed])
            if failed:
                codes = sorted(set(failed.values()))
                raise InputUnavailable(
                    f"sqs {self.queue_url}: {len(failed)} messages not sent ({', '.join(codes)})"
                )

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Lease up to max_messages, long polling at most wait_s (whole seconds) for the first."""
        if max_messages <= 0:
            return []
        if not self._queue_checked:
            await self._check_queue()
        deadline = Deadline(wait_s)
        while True:
            remaining = deadline.remaining_s()
            wait = min(self._settings.wait_time_s, math.ceil(remaining)) if remaining > 0 else 0
            first = min(BATCH_ENTRIES, max_messages)
            raw = await self._receive(first, wait)
            if len(raw) == first:
                raw += await self._fill(max_messages - first)
            messages = await self._screen(raw)
            if messages or deadline.remaining_s() <= 0:
                return messages

    async def ack(self, messages: Sequence[Message]) -> None:
        """Delete the messages; a receipt handle that has gone stale only means a duplicate."""
        await self._each_batch("delete_message_batch", messages, {})

    async def extend(self, messages: Sequence[Message]) -> None:
        """Push the visibility of the messages out to the visibility timeout from now."""
        await self._each_batch(
            "change_message_visibility_batch", messages, {"VisibilityTimeout": self._vt_s}
        )

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Make the messages visible again after delay_s, rounded up to whole seconds."""
        visibility = min(MAX_VISIBILITY_S, math.ceil(max(delay_s, 0.0)))
        await self._each_batch(
            "change_message_visibility_batch", messages, {"VisibilityTimeout": visibility}
        )

    async def backlog(self) -> int:
        """Messages stored and not deleted: visible, in flight and delayed (approximate)."""
        reply = await self._call(
            "get_queue_attributes", QueueUrl=self.queue_url, AttributeNames=BACKLOG_ATTRIBUTES
        )
        attributes = reply.get("Attributes", {})
        return sum(int(attributes.get(name, 0)) for name in BACKLOG_ATTRIBUTES)

    # -- internals -----------------------------------------------------------------------

    async def _check_queue(self) -> None:
        reply = await self._call(
            "get_queue_attributes", QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
        )
        policy = reply.get("Attributes", {}).get("RedrivePolicy")
        self._max_receive_count = int(orjson.loads(policy)["maxReceiveCount"]) if policy else None
        self._queue_checked = True

    async def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        reply = await self._call(
            "receive_message",
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=self._vt_s,
            MessageSystemAttributeNames=RECEIVE_ATTRIBUTES,
        )
        messages: list[dict[str, Any]] = reply.get("Messages", [])
        return messages

    async def _fill(self, wanted: int) -> list[dict[str, Any]]:
        """More receives without waiting, several at once, while they come back full."""
        got: list[dict[str, Any]] = []
        while wanted > len(got):
            need = wanted - len(got)
            sizes = [
                min(BATCH_ENTRIES, need - BATCH_ENTRIES * i)
                for i in range(min(FILL_CONCURRENCY, math.ceil(need / BATCH_ENTRIES)))
            ]
            replies = await asyncio.gather(
                *(self._receive(size, 0) for size in sizes), return_exceptions=True
            )
            short = False
            for size, reply in zip(sizes, replies, strict=True):
                if isinstance(reply, BaseException):
                    log.warning("sqs_receive_failed", error=str(reply))
                    short = True
                    continue
                got += reply
                short = short or len(reply) < size
            if short:
                break
        return got

    async def _screen(self, raw: list[dict[str, Any]]) -> list[Message]:
        """Messages for the pipeline; with a redrive policy, unparseable ones go back to SQS."""
        messages: list[Message] = []
        unparseable: list[Message] = []
        for item in raw:
            message = _message(item)
            if self._max_receive_count is not None and not parses_as_json(message.body):
                unparseable.append(message)
                log.warning(
                    "sqs_unparseable_left_to_redrive",
                    message_id=item.get("MessageId"),
                    deliveries=message.deliveries,
                    max_receive_count=self._max_receive_count,
                )
            else:
                messages.append(message)
        if unparseable:
            await self.release(unparseable)
        return messages

    async def _send_batch(self, entries: list[dict[str, str]]) -> dict[str, str]:
        """Send one batch; the ids of the entries that failed, with their error codes."""
        reply = await self._call("send_message_batch", QueueUrl=self.queue_url, Entries=entries)
        return {failure["Id"]: failure.get("Code", "?") for failure in reply.get("Failed", [])}

    async def _each_batch(
        self, operation: str, messages: Sequence[Message], extra: dict[str, Any]
    ) -> None:
        chunks = [
            messages[start : start + BATCH_ENTRIES]
            for start in range(0, len(messages), BATCH_ENTRIES)
        ]
        replies = await asyncio.gather(
            *(
                self._call(
                    operation,
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message.id, **extra}
                        for index, message in enumerate(chunk)
                    ],
                )
                for chunk in chunks
            )
        )
        failed = [failure for reply in replies for failure in reply.get("Failed", [])]
        if failed:
            # Stale receipt handles: the lease ran out and the message was (or will be)
            # received again; that copy is acked or released on its own.
            log.info(
                "sqs_batch_entries_failed",
                operation=operation,
                failed=len(failed),
                codes=sorted({failure.get("Code", "?") for failure in failed}),
            )

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        if self._client is None:
            raise InputUnavailable(f"sqs {self.queue_url}: the input is not started")
        try:
            reply: dict[str, Any] = await getattr(self._client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise InputUnavailable(
                f"sqs {operation} {self.queue_url}: {error.get('Code')}: {error.get('Message')}"
            ) from None
        except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise InputUnavailable(f"sqs {operation} {self.queue_url}: {exc}") from None
        return reply


def _message(item: dict[str, Any]) -> Message:
    attributes = item.get("Attributes", {})
    return Message(
        id=item["ReceiptHandle"],
        body=item["Body"].encode("utf-8"),
        enqueued_at=int(attributes.get("SentTimestamp", 0)) / 1000,
        deliveries=int(attributes.get("ApproximateReceiveCount", 1)),
    )


def _send_chunks(bodies: Sequence[bytes]) -> list[list[bytes]]:
    """Bodies in order, at most 10 and SEND_BATCH_BYTES per chunk (a bigger body goes alone)."""
    chunks: list[list[bytes]] = []
    size = 0
    for body in bodies:
        if not chunks or len(chunks[-1]) == BATCH_ENTRIES or size + len(body) > SEND_BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(body)
        size += len(body)
    return chunks
