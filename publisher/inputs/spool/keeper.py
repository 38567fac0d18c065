"""What only the spool's consumer holds: the file lock, and the mark it keeps up to date."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

import structlog

from publisher.errors import InputUnavailable
from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.mark import SpoolMark, verify, write_mark

log = structlog.get_logger(__name__)

T = TypeVar("T")

# How often the consumer brings the spool's mark (spool.mark) up to date, when it changed.
_MARK_INTERVAL_S = 1.0


class CallDb(Protocol):
    """Runs an operation on the spool's SQLite thread."""

    def __call__(self, operation: Callable[[SpoolDb], T]) -> Awaitable[T]: ...


def lock_as_consumer(path: Path) -> int:
    """One consumer per spool file: its leases can then live in its memory, and what a
    crashed one held comes back at once. Writers (enqueue, dlq replay) need no lock.
    Returns the locked descriptor; closing it drops the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".consumer.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputUnavailable(
            f"another process is already publishing from the spool {path}"
        ) from None
    return fd


class MarkKeeper:
    """Checks the file against its mark at start, then keeps the mark up to date."""

    def __init__(self, spool_path: Path, call: CallDb) -> None:
        self._path = spool_path
        self._call = call
        self._mark: SpoolMark | None = None
        self._marker: asyncio.Task[None] | None = None

    async def start(self, accept_empty: bool) -> None:
        """Refuse a file that lost pending events (see publisher.inputs.spool.mark)."""
        self._mark = await self._call(
            partial(verify, spool_path=self._path, accept_empty=accept_empty)
        )
        await self._write_mark(self._mark)
        self._marker = asyncio.create_task(self._keep_marking(), name="spool-mark")

    async def stop(self) -> None:
        """Stop the periodic update (`update` still writes a last one)."""
        if self._marker is not None:
            self._marker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._marker
            self._marker = None

    async def _keep_marking(self) -> None:
        while True:
            await asyncio.sleep(_MARK_INTERVAL_S)
            await self.update()

    async def update(self) -> None:
        """Record the high-water id and the backlog, so a lost file is noticed at start."""
        mark = self._mark
        if mark is None:
            return
        try:
            high_water, pending = await self._call(lambda db: (db.high_water(), db.backlog()))
        except InputUnavailable as exc:
            log.warning("spool_mark_not_written", error=str(exc))
            return
        if (high_water, pending) != (mark.high_water_id, mark.pending):
            current = SpoolMark(mark.spool_id, high_water, pending)
            if await self._write_mark(current):
                self._mark = current

    async def _write_mark(self, mark: SpoolMark) -> bool:
        try:
            await asyncio.to_thread(write_mark, self._path, mark)
        except OSError as exc:  # a full disk: the next interval tries again
            log.warning("spool_mark_not_written", error=str(exc))
            return False
        return True
