"""Spool-only behaviour: survives reopen and SIGKILL, bounds bytes, gives disk space back."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import pytest

from publisher.core.message import Message
from publisher.errors import InputFull, InputUnavailable
from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings

CHILD = Path(__file__).with_name("spool_child.py")


@asynccontextmanager
async def opened_spool(
    path: Path, clock: Callable[[], float] = time.time, **settings: float
) -> AsyncIterator[SpoolInput]:
    spool = SpoolInput(SpoolInputSettings(path=path, **settings), clock=clock, consumer=True)
    await spool.start()
    try:
        yield spool
    finally:
        await spool.close()


async def drain(spool: SpoolInput) -> list[Message]:
    got: list[Message] = []
    while batch := await spool.fetch(500, wait_s=0):
        got += batch
    return got


async def test_reopen_delivers_every_unacknowledged_message_again(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "spool.db"
    async with opened_spool(path, visibility_timeout_s=60) as spool:
        await spool.put([b"a", b"b", b"c", b"d", b"e"])
        leased = await spool.fetch(2, wait_s=0)
        await spool.ack(leased[:1])

    # Leases live in the consumer's memory: a new consumer gets what the last one held at
    # once, without waiting out its visibility timeout.
    async with opened_spool(path, visibility_timeout_s=60) as spool:
        assert await spool.backlog() == 4
        back = await drain(spool)
        assert [(m.body, m.deliveries) for m in back] == [
            (b"b", 1),
            (b"c", 1),
            (b"d", 1),
            (b"e", 1),
        ]
        assert back[0].enqueued_at == leased[1].enqueued_at
        assert await spool.fetch(10, wait_s=0) == []  # all leased by this consumer now


async def test_only_the_consumer_fetches(tmp_path: Path) -> None:
    spool = SpoolInput(SpoolInputSettings(path=tmp_path / "spool.db"))
    await spool.start()
    try:
        await spool.put([b"a"])
        with pytest.raises(InputUnavailable, match="consumer"):
            await spool.fetch(1, wait_s=0)
    finally:
        await spool.close()
    async with opened_spool(tmp_path / "spool.db") as consumer:
        assert [m.body for m in await consumer.fetch(1, wait_s=0)] == [b"a"]


async def test_a_failed_read_keeps_messages_due_for_the_next_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened_spool(tmp_path / "spool.db") as spool:
        await spool.put([b"a", b"b"])
        leased = await spool.fetch(2, wait_s=0)
        await spool.release(leased)
        original = SpoolDb.read_ids

        def failing(db: SpoolDb, ids: str) -> list[Any]:
            # The worker runs a failed group's operations once more, each on its own.
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(SpoolDb, "read_ids", failing)
        with pytest.raises(InputUnavailable, match="disk I/O error"):
            await spool.fetch(2, wait_s=0)
        monkeypatch.setattr(SpoolDb, "read_ids", original)
        back = await spool.fetch(2, wait_s=0)
        assert [(m.body, m.deliveries) for m in back] == [(b"a", 2), (b"b", 2)]


# The table as versions that wrote lease columns on every put created it.
OLD_SCHEMA = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_visible_at ON messages (visible_at);
CREATE TABLE totals (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT INTO messages (body, enqueued_at, visible_at) VALUES (X'6F6C64', 1, 1);
INSERT INTO totals (singleton, events, bytes) VALUES (0, 1, 3);
"""


def lease_columns(path: Path) -> list[tuple[float, int]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT visible_at, deliveries FROM messages ORDER BY id").fetchall()


async def test_puts_leave_the_unread_lease_columns_at_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with opened_spool(path) as spool:
        await spool.put([b"a", b"b"])
        assert [m.body for m in await drain(spool)] == [b"a", b"b"]
    assert lease_columns(path) == [(0, 0), (0, 0)]


async def test_a_file_from_an_earlier_version_is_still_written_and_read(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(OLD_SCHEMA)  # holding one message, b"old"
    async with opened_spool(path) as spool:
        await spool.put([b"new"])  # visible_at has no default in that file: it must be given
        got = await drain(spool)
        assert [m.body for m in got] == [b"old", b"new"]
        await spool.ack(got)
        assert await spool.backlog() == 0


async def test_put_over_max_bytes_raises_input_full(tmp_path: Path) -> None:
    async with opened_spool(tmp_path / "spool.db", max_bytes=2048) as spool:
        await spool.put([b"x" * 1000, b"y" * 1000])
        with pytest.raises(InputFull):
            await spool.put([b"z" * 100])
        assert await spool.backlog() == 2


async def test_file_shrinks_after_a_large_backlog_drains(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"

    def size_on_disk() -> int:
        return sum(p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith("spool.db"))

    async with opened_spool(path) as spool:
        for _ in range(40):
            await spool.put([os.urandom(1000) for _ in range(1000)])
        full = size_on_disk()
        while batch := await spool.fetch(500, wait_s=0):
            await spool.ack(batch)
        drained = size_on_disk()

    assert full > 40_000_000
    assert drained < 4_000_000, (full, drained)


async def test_fetch_sees_messages_put_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with opened_spool(path) as spool:
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), "put", str(path), "3", stdout=asyncio.subprocess.PIPE
        )
        try:
            messages = await spool.fetch(3, wait_s=10.0)
        finally:
            child.kill()
            await child.wait()
        assert [m.body for m in messages] == [b"0:0", b"0:1", b"0:2"]


def run_child_and_kill(mode: str, path: Path, batch: int, seed: int) -> list[str]:
    """Run the child, SIGKILL it at a random moment once it is working; its stdout lines."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(path), str(batch)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        while (line := child.stdout.readline()) != "ready\n":
            assert line, "the child exited before it was ready"
        time.sleep(random.Random(seed).uniform(0.05, 0.6))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    # Read through the same buffered reader: communicate() would skip what readline() buffered.
    output = child.stdout.read()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return output.splitlines()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sigkill_mid_put_loses_no_committed_batch(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "spool.db"
    lines = run_child_and_kill("put", path, batch=50, seed=seed)
    committed = {int(line.split()[1]) for line in lines if line.startswith("committed ")}

    async with opened_spool(path) as spool:
        stored = [m.body.decode().split(":") for m in await drain(spool)]
        assert await spool.backlog() == len(stored)
    batches: dict[int, set[int]] = {}
    for number, index in stored:
        batches.setdefault(int(number), set()).add(int(index))

    assert committed, "the child was killed before it committed anything"
    assert committed <= batches.keys()
    assert all(indexes == set(range(50)) for indexes in batches.values())  # no partial batch
    assert len(batches.keys() - committed) <= 1  # at most the one committing when killed


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sigkill_mid_consume_loses_nothing_and_acks_once(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "spool.db"
    async with opened_spool(path) as spool:
        for _ in range(20):
            await spool.put([b"%d" % i for i in range(1000)])
    lines = run_child_and_kill("consume", path, batch=100, seed=seed)
    assert "done" not in lines, "the child drained the spool before it was killed"
    acked = [i for line in lines if line.startswith("acked ") for i in line[6:].split(",")]
    fetched = [line[8:].split(",") for line in lines if line.startswith("fetched ")]

    async with opened_spool(path) as spool:  # the killed consumer's leases died with it
        remaining = [m.id for m in await drain(spool)]

    assert acked, "the child was killed before it acked anything"
    assert len(acked) == len(set(acked))  # no message acked twice
    assert not set(acked) & set(remaining)  # an ack survives the crash
    unaccounted = {str(i) for i in range(1, 20_001)} - set(acked) - set(remaining)
    assert not unaccounted or (fetched and unaccounted <= set(fetched[-1]))  # the last ack only
