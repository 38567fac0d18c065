"""Dead letters: events that can never be published, kept with the reason, replayable."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from publisher.core.message import Message
from publisher.errors import StartRefused

# The start-up probe writes this much beside the store: a disk too full for it would fail
# the first dead letter anyway.
_PROBE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event given up on, with why; tenant and event_id (None when unknown) are for its log
    line."""

    message: Message
    reason: str
    error_code: str
    error_message: str
    attempts: int
    tenant: str | None
    event_id: str | None
    """The event's id; one assigned at intake when it came without one is kept in the record."""
    dead_letter_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class DeadLetterSink(Protocol):
    async def write(self, letters: Sequence[DeadLetter]) -> None:
        """Store durably before returning; the messages are acknowledged only afterwards."""


def dead_letter_record(letter: DeadLetter, now: float) -> dict[str, Any]:
    """The JSON line README's "What happens to failures" describes; `event` is the original
    object, or the raw text if it is not JSON."""
    body = letter.message.body
    try:
        event: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        event = body.decode("utf-8", errors="backslashreplace")
    if isinstance(event, dict) and "id" not in event and letter.event_id is not None:
        event["id"] = letter.event_id  # so a replay brings it back under the id it was traced by
    return {
        "dead_letter_id": letter.dead_letter_id,
        "event": event,
        "reason": letter.reason,
        "error_code": letter.error_code,
        "error_message": letter.error_message,
        "attempts": letter.attempts,
        "first_received_at": iso_time(letter.message.enqueued_at),
        "dead_lettered_at": iso_time(now),
        "message_id": letter.message.id,
    }


def encode_record(record: dict[str, Any], body: bytes) -> bytes:
    """One JSON line; an event orjson cannot encode (nested past its 254 levels, which AWS
    allows up to 1000: docs/aws-contract.md, "Detail nesting") is kept as its raw text
    instead, so a dead letter can always be written and `replay_body` still returns the
    original bytes."""
    try:
        return orjson.dumps(record) + b"\n"
    except orjson.JSONEncodeError:
        raw = {**record, "event": body.decode("utf-8", errors="backslashreplace")}
        return orjson.dumps(raw) + b"\n"


def iso_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


class JsonlDeadLetters:
    """Appends one JSON object per line and fsyncs before returning."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._file: io.FileIO | None = None
        self._lock = asyncio.Lock()
        self.written = 0

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        now = self._clock()
        data = b"".join(encode_record(dead_letter_record(x, now), x.message.body) for x in letters)
        async with self._lock:
            await asyncio.to_thread(self._append, data)
            self.written += len(letters)

    def check_writable(self) -> None:
        """Raise StartRefused unless the store is a regular file on a writable disk with room."""
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not stat.S_ISREG(path.stat().st_mode):
                raise StartRefused(f"dead_letter.path {path} is not a regular file")
            with open(path, "ab"):
                pass
            probe = path.with_name(f".{path.name}.probe")
            try:
                with open(probe, "wb") as handle:
                    handle.write(b"\0" * _PROBE_BYTES)
                    handle.flush()
                    os.fsync(handle.fileno())
            finally:
                probe.unlink(missing_ok=True)
        except OSError as exc:
            raise StartRefused(f"dead_letter.path {path} is not writable: {exc}") from None

    def _append(self, data: bytes) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if _ends_torn(self.path):
                data = b"\n" + data  # or the first new record would be glued to the torn line
            # Unbuffered: after a failed write nothing waits in a buffer to be written twice.
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open
        try:
            view = memoryview(data)
            while view:
                view = view[self._file.write(view) or 0 :]
            os.fsync(self._file.fileno())
        except OSError:
            # Reopened next time, which also starts the retry on a fresh line if this one tore.
            self.close()
            raise

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # unbuffered: the failed write already raised
                file.close()


def _ends_torn(path: Path) -> bool:
    """Whether a crash mid-write left the last line without its newline."""
    try:
        with open(path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:  # missing or empty
        return False


def replay_log_path(path: Path) -> Path:
    """Where the ids of replayed dead letters are kept: the store itself stays append-only."""
    return path.with_name(path.name + ".replayed")


def replayed_ids(path: Path) -> set[str]:
    log_path = replay_log_path(path)
    if not log_path.exists():
        return set()
    return {line.strip() for line in log_path.read_text().splitlines() if line.strip()}


def mark_replayed(path: Path, ids: Sequence[str]) -> None:
    with open(replay_log_path(path), "a", encoding="utf-8") as handle:
        handle.writelines(f"{dead_letter_id}\n" for dead_letter_id in ids)
        handle.flush()
        os.fsync(handle.fileno())


def replay_body(record: dict[str, Any]) -> bytes:
    """The input body that puts this dead letter's event back, id and all, as it was."""
    event = record.get("event")
    if isinstance(event, str):
        return event.encode()
    return orjson.dumps(event)


def read_dead_letters(path: Path) -> Iterator[dict[str, Any]]:
    """Every record in the file, in order; a torn last line (crash mid-write) is skipped."""
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
