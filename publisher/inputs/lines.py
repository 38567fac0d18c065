"""The input of `send`: NDJSON lines of a file or stdin, read on demand in large blocks.

Nothing here outlives the process, so there is nothing to make durable and no lease to run
out: a fetched line stays with the pipeline until it is acknowledged (settled) or released
(fetched again, after its delay). Reading blocks and splitting them costs a fraction of
reading line by line, and reading only when the pipeline asks keeps memory bounded by the
pipeline's own buffer plus one block.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Protocol

from publisher.core.clock import steady_time
from publisher.core.message import Message

BLOCK_BYTES = 1 << 20


class BlockReader(Protocol):
    """What `open(path, "rb")` and `sys.stdin.buffer` offer: read1 returns what is there."""

    def read1(self, size: int = ..., /) -> bytes: ...


class LineFeed:
    """An Input over a stream of NDJSON lines; blank lines are skipped, ends stripped.

    `finished` is set once the stream has ended and every line read has been acknowledged.
    """

    def __init__(
        self,
        stream: BlockReader,
        block_bytes: int = BLOCK_BYTES,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = steady_time,
    ) -> None:
        self._stream = stream
        self._block_bytes = block_bytes
        self._clock = clock
        self._wall_clock = wall_clock
        self._ready: deque[Message] = deque()
        self._delayed: list[tuple[float, int, Message]] = []
        self._sequence = itertools.count()
        self._partial = b""
        self._reading: asyncio.Future[bytes] | None = None
        self._ended = False
        self._unsettled = 0
        self.lines_read = 0
        self.bytes_read = 0  # for progress displays: the share of a file read so far
        self.finished = asyncio.Event()

    @property
    def ended(self) -> bool:
        """True once the stream has no more lines: `lines_read` is then the total."""
        return self._ended

    @property
    def lease_renew_s(self) -> None:
        """Lines are never taken back from the pipeline: nothing to renew."""
        return None

    async def start(self) -> None:
        """Nothing to open: the stream is the caller's."""

    async def close(self) -> None:
        """Nothing to release: the stream is the caller's."""

    async def put(self, bodies: Sequence[bytes]) -> None:
        raise NotImplementedError("a line feed is read from its stream, not put into")

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Up to max_messages lines: released ones first, then new ones from the stream."""
        deadline = self._clock() + wait_s
        while True:
            self._promote_due(self._clock())
            if self._ready or (self._ended and not self._delayed):
                return self._take(max_messages)
            remaining = deadline - self._clock()
            if remaining <= 0:
                return []
            if self._ended:
                await asyncio.sleep(min(remaining, self._delayed[0][0] - self._clock()))
            else:
                await self._read_block(min(remaining, self._until_next_due()))

    async def ack(self, messages: Sequence[Message]) -> None:
        self._unsettled -= len(messages)
        self._check_finished()

    async def extend(self, messages: Sequence[Message]) -> None:
        """Nothing to renew: lines are never taken back from the pipeline."""

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        """Hand lines out again: at once and first, or after delay_s."""
        self._unsettled -= len(messages)
        if delay_s <= 0:
            self._ready.extendleft(reversed(messages))
            return
        ready_at = self._clock() + delay_s
        for message in messages:
            heapq.heappush(self._delayed, (ready_at, next(self._sequence), message))

    async def backlog(self) -> int:
        """Lines read and not yet acknowledged; the unread rest of the stream is unknown."""
        return self._unsettled + len(self._ready) + len(self._delayed)

    def _take(self, max_messages: int) -> list[Message]:
        count = min(max_messages, len(self._ready))
        batch = [self._ready.popleft() for _ in range(count)]
        self._unsettled += count
        self._check_finished()
        return batch

    def _promote_due(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[2])

    def _until_next_due(self) -> float:
        return self._delayed[0][0] - self._clock() if self._delayed else float("inf")

    async def _read_block(self, wait_s: float) -> None:
        """Wait up to wait_s for the next block; a slow pipe's read carries over to later calls."""
        if self._reading is None:
            self._reading = asyncio.ensure_future(
                asyncio.to_thread(self._stream.read1, self._block_bytes)
            )
        done, _ = await asyncio.wait([self._reading], timeout=wait_s)
        if not done:
            return
        block = self._reading.result()
        self._reading = None
        self._split(block)

    def _split(self, block: bytes) -> None:
        self.bytes_read += len(block)
        if block:
            pieces = (self._partial + block).split(b"\n")
            self._partial = pieces.pop()
        else:
            pieces, self._partial, self._ended = [self._partial], b"", True
        lines = [line for piece in pieces if (line := piece.strip())]
        first = self.lines_read + 1  # ids count lines from 1
        ids = map(str, range(first, first + len(lines)))
        # map builds the messages without a generator frame to resume for each line.
        self._ready.extend(map(Message, ids, lines, repeat(self._wall_clock(), len(lines))))
        self.lines_read += len(lines)
        self._check_finished()

    def _check_finished(self) -> None:
        if self._ended and not self._unsettled and not self._ready and not self._delayed:
            self.finished.set()
