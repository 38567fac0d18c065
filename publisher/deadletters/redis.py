"""The Redis store: dead letters in a stream, replayed ids in a hash beside it.

A claim is one HSETNX per dead letter, which Redis applies atomically: of two operators
replaying at once, exactly one marks (and so replays) each dead letter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio

from publisher.deadletters.store import StoredDeadLetter, decode_record, encode_letters
from publisher.engine.deadletter import DeadLetter

RECORD_FIELD = b"record"
PAGE = 1000


def default_stream(input_stream: str) -> str:
    return f"{input_stream}:dead-letters"


class RedisDeadLetterStore:
    def __init__(self, url: str, stream: str) -> None:
        self.url = url
        self.stream = stream
        self.replayed_key = f"{stream}:replayed"
        self._client: redis.asyncio.Redis | None = None

    @property
    def describe(self) -> str:
        return f"redis stream {self.stream}"

    async def start(self) -> None:
        self._client = redis.asyncio.Redis.from_url(self.url)

    @property
    def client(self) -> redis.asyncio.Redis:
        if self._client is None:
            raise RuntimeError("dead-letter store is not started")
        return self._client

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            for _, data in encode_letters(letters):
                pipe.xadd(self.stream, {RECORD_FIELD: data})
            await pipe.execute()

    async def records(self) -> list[StoredDeadLetter]:
        keys: list[Any] = list(await self.client.hkeys(self.replayed_key))
        replayed = {key.decode() for key in keys}
        stored: list[StoredDeadLetter] = []
        start = "-"
        while True:
            reply = await self.client.xrange(self.stream, min=start, count=PAGE)
            page: list[Any] = list(reply or [])
            for _, fields in page:
                record = decode_record(fields.get(RECORD_FIELD, b""))
                if record is not None:
                    dead_letter_id = str(record.get("dead_letter_id"))
                    stored.append(StoredDeadLetter(record, dead_letter_id in replayed))
            if len(page) < PAGE:
                return stored
            start = "(" + page[-1][0].decode()

    async def claim(self, dead_letter_ids: Sequence[str]) -> list[str]:
        ids = list(dict.fromkeys(dead_letter_ids))
        now = str(time.time())
        async with self.client.pipeline(transaction=False) as pipe:
            for dead_letter_id in ids:
                pipe.hsetnx(self.replayed_key, dead_letter_id, now)
            marked = await pipe.execute()
        return [i for i, fresh in zip(ids, marked, strict=True) if fresh]

    async def unclaim(self, dead_letter_ids: Sequence[str]) -> None:
        if dead_letter_ids:
            await self.client.hdel(self.replayed_key, *dead_letter_ids)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
