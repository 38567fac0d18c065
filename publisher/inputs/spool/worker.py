"""The spool's one SQLite thread: runs queued operations, many per transaction (group commit)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from publisher.inputs.spool.db import SpoolDb

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Operations waiting when a transaction ends share the next one: under load, one commit (the
# fixed cost of a WAL append) serves many puts, fetches and acks at once.
_MAX_GROUP = 64
# After a commit the checkpointer waits this long before copying the WAL into the file, so
# that one checkpoint covers many commits.
_CHECKPOINT_DELAY_S = 0.1


_Settled = tuple[asyncio.Future[Any], Any, Exception | None]
"""An operation's future with its result or error."""


@dataclass(slots=True)
class _Job(Generic[T]):
    operation: Callable[[SpoolDb], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop


class SpoolWorker:
    """Owns the only connection to the spool file, on a thread of its own.

    `submit` returns when the operation's transaction has committed, so a put that returned
    is on disk. A failing operation (InputFull) fails alone; an SQLite error in a group makes
    each of its operations run again in a transaction of its own, so only the culprit fails.
    """

    def __init__(
        self,
        open_db: Callable[[], SpoolDb],
        translate: Callable[[Exception], Exception],
        open_checkpointer: Callable[[], sqlite3.Connection] | None = None,
    ):
        self._open_db = open_db
        self._translate = translate
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="spool-sqlite", daemon=True)
        self._opened: asyncio.Future[None] | None = None
        self._checkpointer = _Checkpointer(open_checkpointer) if open_checkpointer else None

    async def start(self) -> None:
        """Start the thread and open the file; raises what opening raised."""
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._thread.start()
        await self._opened

    def submit(self, operation: Callable[[SpoolDb], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(operation, future, loop))
        return future

    async def stop(self) -> None:
        """Finish the queued operations, close the file, end the thread."""
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        opened = self._opened
        assert opened is not None
        try:
            db = self._open_db()
        except Exception as exc:
            opened.get_loop().call_soon_threadsafe(_settle, opened, None, self._translate(exc))
            return
        opened.get_loop().call_soon_threadsafe(_settle, opened, None, None)
        checkpointer = self._checkpointer
        if checkpointer is not None:
            checkpointer.start()
        try:
            while (group := self._next_group()) is not None:
                self._execute(db, group)
                if checkpointer is not None:
                    checkpointer.committed()
        finally:
            if checkpointer is not None:
                checkpointer.stop()  # first: the last connection to close checkpoints it all
            db.close()

    def _next_group(self) -> list[_Job[Any]] | None:
        first = self._jobs.get()
        if first is None:
            return None
        group = [first]
        while len(group) < _MAX_GROUP:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)  # stop after this group
                break
            group.append(job)
        return group

    def _execute(self, db: SpoolDb, group: list[_Job[Any]]) -> None:
        try:
            outcomes = _run_group(db, group)
        except sqlite3.Error:
            outcomes = [o for job in group for o in _run_group(db, [job], self._translate)]
        # One wake-up of each waiting loop for the whole group, not one per operation.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
        for job, (result, error) in zip(group, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, result, error))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)
        with contextlib.suppress(sqlite3.Error):  # housekeeping only, retried after a later ack
            db.after_commit()


class _Checkpointer:
    """Checkpoints the WAL shortly after commits, on its own thread and connection.

    SQLite runs the checkpoint without the GIL, and a PASSIVE one neither waits for nor blocks
    the worker's transactions, so puts and fetches do not queue behind it.
    """

    def __init__(self, open_conn: Callable[[], sqlite3.Connection]) -> None:
        self._open_conn = open_conn
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spool-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def committed(self) -> None:
        self._dirty.set()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = self._open_conn()
        except sqlite3.Error:
            log.warning("spool_checkpointer_unavailable", exc_info=True)
            return  # the worker's commit-time checkpoints still bound the WAL
        try:
            # stop() sets _stopping before _dirty, so when the clear() below wipes stop()'s
            # wake-up, this check still sees _stopping; without it the thread would wait on
            # _dirty for ever and stop() would never return.
            while not self._stopping.is_set():
                self._dirty.wait()
                if self._stopping.wait(_CHECKPOINT_DELAY_S):
                    return
                self._dirty.clear()
                try:
                    SpoolDb.checkpoint(conn)
                except sqlite3.Error as exc:  # the next commit tries again
                    log.warning("spool_checkpoint_failed", error=str(exc))
        finally:
            conn.close()


def _run_group(
    db: SpoolDb,
    group: list[_Job[Any]],
    translate: Callable[[Exception], Exception] | None = None,
) -> list[tuple[Any, Exception | None]]:
    """Run the group in one transaction; with `translate`, report an SQLite error as outcome."""
    outcomes: list[tuple[Any, Exception | None]] = []
    try:
        with db.transaction():
            for job in group:
                try:
                    outcomes.append((job.operation(db), None))
                except sqlite3.Error:
                    raise
                except Exception as exc:  # InputFull, or a bug: fails this operation only
                    outcomes.append((None, exc))
    except sqlite3.Error as exc:
        if translate is None:
            raise
        return [(None, translate(exc)) for _ in group]
    return outcomes


def _settle_all(settled: list[_Settled]) -> None:
    for future, result, error in settled:
        _settle(future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: Exception | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
