"""The SQS store: one message per dead letter; replayed ones carry the attribute `replayed_at`.

SQS cannot list a queue, so `records` receives every message under a short lease and gives
each back at once (messages another reader holds at that moment are not seen). A claim
receives the messages, re-sends the chosen ones marked replayed and deletes the originals:
while one operator holds a message, no other receives it, so each is claimed once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from publisher.deadletters.store import StoredDeadLetter, decode_record, encode_letters
from publisher.engine.deadletter import DeadLetter

BATCH_ENTRIES = 10
BATCH_BYTES = 250_000  # under SendMessageBatch's 256 KiB, with room for attributes
REPLAYED = "replayed_at"
ORDER = "written_order"
"""When first written (ns) and its place in that write; kept when re-sent, so lists keep order."""
Outgoing = tuple[str, str, str | None]
"""A message to send: body, written order, replayed_at (None: not replayed)."""
# Long enough to list or claim a large queue without the first messages coming back meanwhile.
HOLD_S = 300


class SqsDeadLetterStore:
    def __init__(
        self,
        queue_url: str,
        region: str,
        endpoint_url: str | None,
        session: AioSession | None = None,
    ) -> None:
        self.queue_url = queue_url
        self._region = region
        self._endpoint_url = endpoint_url
        self._session = session or AioSession()
        self._stack = AsyncExitStack()
        self._client: Any = None

    @property
    def describe(self) -> str:
        return f"sqs queue {self.queue_url}"

    async def start(self) -> None:
        config = AioConfig(retries={"mode": "standard", "total_max_attempts": 3})
        self._client = await self._stack.enter_async_context(
            self._session.create_client(
                "sqs", region_name=self._region, endpoint_url=self._endpoint_url, config=config
            )
        )

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        now_ns = time.time_ns()
        await self._send(
            [
                (data.decode(), f"{now_ns:020d}-{index:06d}", None)
                for index, (_, data) in enumerate(encode_letters(letters))
            ]
        )

    async def records(self) -> list[StoredDeadLetter]:
        async with self._held() as held:
            return [stored for stored, _ in held]

    async def claim(self, dead_letter_ids: Sequence[str]) -> list[str]:
        return await self._rewrite(set(dead_letter_ids), replayed=True)

    async def unclaim(self, dead_letter_ids: Sequence[str]) -> None:
        await self._rewrite(set(dead_letter_ids), replayed=False)

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def _rewrite(self, wanted: set[str], replayed: bool) -> list[str]:
        """Re-send the wanted messages not yet in that state with it, then delete the old."""
        async with self._held() as held:
            chosen = [
                (stored, message)
                for stored, message in held
                if stored.dead_letter_id in wanted and stored.replayed != replayed
            ]
            marker = str(time.time()) if replayed else None
            await self._send([(message["Body"], _order(message), marker) for _, message in chosen])
            await self._delete([message for _, message in chosen])
            for pair in chosen:
                held.remove(pair)
        return [stored.dead_letter_id for stored, _ in chosen]

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[list[tuple[StoredDeadLetter, dict[str, Any]]]]:
        """Every message received under a lease; those still listed on exit are given back."""
        held: list[tuple[StoredDeadLetter, dict[str, Any]]] = []
        try:
            while True:
                reply = await self._client.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=BATCH_ENTRIES,
                    VisibilityTimeout=HOLD_S,
                    WaitTimeSeconds=1,  # asks every server, not a sample of them
                    MessageAttributeNames=[REPLAYED, ORDER],
                )
                messages = reply.get("Messages") or []
                if not messages:
                    break
                held.extend((_stored(message), message) for message in messages)
            held.sort(key=lambda pair: _order(pair[1]))
            yield held
        finally:
            await self._give_back([message for _, message in held])

    async def _send(self, bodies: list[Outgoing]) -> None:
        for chunk in _chunks(bodies):
            entries = [_entry(index, *outgoing) for index, outgoing in enumerate(chunk)]
            reply = await self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if reply.get("Failed"):
                codes = sorted({str(item.get("Code")) for item in reply["Failed"]})
                raise RuntimeError(f"sqs {self.queue_url}: dead letters not stored ({codes})")

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), BATCH_ENTRIES):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages[start : start + BATCH_ENTRIES])
            ]
            await self._client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    async def _give_back(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), BATCH_ENTRIES):
            entries = [
                {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, message in enumerate(messages[start : start + BATCH_ENTRIES])
            ]
            await self._client.change_message_visibility_batch(
                QueueUrl=self.queue_url, Entries=entries
            )


def _stored(message: dict[str, Any]) -> StoredDeadLetter:
    record = decode_record(message.get("Body", "")) or {"event": message.get("Body")}
    replayed = REPLAYED in (message.get("MessageAttributes") or {})
    return StoredDeadLetter(record, replayed)


def _order(message: dict[str, Any]) -> str:
    attribute = (message.get("MessageAttributes") or {}).get(ORDER) or {}
    return str(attribute.get("StringValue", ""))


def _entry(index: int, body: str, order: str, replayed_at: str | None) -> dict[str, Any]:
    attributes = {ORDER: {"DataType": "String", "StringValue": order}}
    if replayed_at is not None:
        attributes[REPLAYED] = {"DataType": "String", "StringValue": replayed_at}
    return {"Id": str(index), "MessageBody": body, "MessageAttributes": attributes}


def _chunks(bodies: list[Outgoing]) -> list[list[Outgoing]]:
    chunks: list[list[Outgoing]] = []
    size = 0
    for item in bodies:
        item_size = len(item[0].encode()) + 64
        if not chunks or len(chunks[-1]) == BATCH_ENTRIES or size + item_size > BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return chunks
