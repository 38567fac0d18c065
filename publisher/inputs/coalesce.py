"""Coalescing: calls that arrive while one is under way are joined into the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

ACK_INTERVAL_S = 0.005
"""How often an input's acks start a statement or a round trip at most: acks settled within it
share one. Kept short, as a PutPartnerEvents call holds its slot until its ack returns."""


class Coalescer(Generic[T]):
    """Runs `flush` on everything submitted while the previous flush ran, one flush at a time.

    An idle coalescer flushes at once, so a lone call waits no longer than before; under load
    each flush carries what queued up behind the last one, so the cost per item of a statement
    or a round trip falls as the load rises. `submit` returns (or raises) with the flush that
    carried its items; cancelling a caller does not cancel that flush.

    With `min_interval_s`, flushes start at most that often: the first after a quiet spell
    still starts at once, later ones carry what arrived during the interval too.
    """

    def __init__(
        self, flush: Callable[[list[T]], Awaitable[None]], min_interval_s: float = 0.0
    ) -> None:
        self._flush = flush
        self._min_interval_s = min_interval_s
        self._pending: list[T] = []
        self._next: asyncio.Future[None] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[T]) -> None:
        if not items:
            return
        self._pending.extend(items)
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        carried_by = self._next
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="coalesced-flush")
        await asyncio.shield(carried_by)

    async def drain(self) -> None:
        """Wait until everything submitted so far has been flushed (errors stay with callers)."""
        while self._runner is not None:
            await asyncio.wait([self._runner])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._next is not None:
                items, done = self._pending, self._next
                self._pending, self._next = [], None
                started = loop.time()
                try:
                    await self._flush(items)
                except BaseException as exc:
                    _settle(done, exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    _settle(done, None)
                if self._min_interval_s > 0:
                    # Stays the runner meanwhile, so that a submit waits for the interval.
                    await asyncio.sleep(started + self._min_interval_s - loop.time())
        finally:
            self._runner = None
            if self._next is not None:  # cancelled with items still queued: their callers fail
                _settle(self._next, asyncio.CancelledError())
                self._pending, self._next = [], None


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    elif isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(error)
