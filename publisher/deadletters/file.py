"""The file store: the JSONL dead-letter file, replayed ids in `<path>.replayed` beside it.

Claims take an exclusive lock on the replayed-ids file, so two `dlq replay` on the same
machine (or a shared volume with working locks) never replay one dead letter twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from publisher.deadletters.store import StoredDeadLetter
from publisher.engine.deadletter import (
    DeadLetter,
    JsonlDeadLetters,
    read_dead_letters,
    replay_log_path,
)


class FileDeadLetterStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = JsonlDeadLetters(path)

    @property
    def describe(self) -> str:
        return str(self.path)

    def check_writable(self) -> None:
        """Raise StartRefused unless the file can be written now (see JsonlDeadLetters)."""
        self._writer.check_writable()

    async def start(self) -> None:
        return None

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        await self._writer.write(letters)

    async def records(self) -> list[StoredDeadLetter]:
        return await asyncio.to_thread(self._records)

    def _records(self) -> list[StoredDeadLetter]:
        with self._replay_log() as log:
            replayed = set(_ids_in(log))
        return [
            StoredDeadLetter(record, str(record.get("dead_letter_id")) in replayed)
            for record in read_dead_letters(self.path)
        ]

    async def claim(self, dead_letter_ids: Sequence[str]) -> list[str]:
        return await asyncio.to_thread(self._claim, dead_letter_ids)

    def _claim(self, dead_letter_ids: Sequence[str]) -> list[str]:
        with self._replay_log() as log:
            seen = set(_ids_in(log))
            fresh = list(dict.fromkeys(i for i in dead_letter_ids if i not in seen))
            log.seek(0, os.SEEK_END)
            log.write("".join(f"{dead_letter_id}\n" for dead_letter_id in fresh))
            log.flush()
            os.fsync(log.fileno())
        return fresh

    async def unclaim(self, dead_letter_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self._unclaim, set(dead_letter_ids))

    def _unclaim(self, dead_letter_ids: set[str]) -> None:
        with self._replay_log() as log:
            kept = [i for i in _ids_in(log) if i not in dead_letter_ids]
            log.seek(0)
            log.truncate()
            log.write("".join(f"{dead_letter_id}\n" for dead_letter_id in kept))
            log.flush()
            os.fsync(log.fileno())

    @contextmanager
    def _replay_log(self) -> Iterator[IO[str]]:
        path = replay_log_path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+", encoding="utf-8") as log:
            fcntl.flock(log.fileno(), fcntl.LOCK_EX)
            try:
                yield log
            finally:
                fcntl.flock(log.fileno(), fcntl.LOCK_UN)

    async def close(self) -> None:
        self._writer.close()


def _ids_in(log: IO[str]) -> list[str]:
    log.seek(0)
    return [line.strip() for line in log.read().splitlines() if line.strip()]
