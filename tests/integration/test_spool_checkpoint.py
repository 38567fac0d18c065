"""The spool checkpoints its WAL in the background, shortly after commits, and closes clean."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.input import SpoolInput
from publisher.inputs.spool.worker import _Checkpointer
from publisher.settings import SpoolInputSettings


def _rows_in_main_file(path: Path) -> int:
    # immutable=1 ignores the WAL: this sees only what a checkpoint has copied into the file.
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.OperationalError:  # not even the schema has been copied yet
            return 0


async def test_commits_reach_the_main_file_without_a_full_wal(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = SpoolInput(SpoolInputSettings(path=path), consumer=True)
    await spool.start()
    try:
        await spool.put([b'{"n": %d}' % n for n in range(10)])
        for _ in range(100):  # SQLite alone would wait for 1000 WAL pages (or the close)
            if _rows_in_main_file(path) == 10:
                break
            await asyncio.sleep(0.02)
        assert _rows_in_main_file(path) == 10
        assert len(await spool.fetch(10, 0)) == 10
    finally:
        await spool.close()
    assert not path.with_name("spool.db-wal").exists()  # the last connection closed it cleanly


def test_the_checkpointer_stops_even_when_its_wake_up_was_cleared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """stop() sets both events, then the loop's clear() (which follows its delay) wipes the
    wake-up before the loop waits again: the thread must still end."""
    checkpointer = _Checkpointer(lambda: sqlite3.connect(tmp_path / "c.db"))

    def checkpoint_during_which_stop_is_called(conn: sqlite3.Connection) -> None:
        checkpointer._stopping.set()  # the wake-up that stop() also set is already cleared

    monkeypatch.setattr(SpoolDb, "checkpoint", staticmethod(checkpoint_during_which_stop_is_called))
    checkpointer.start()
    checkpointer.committed()
    checkpointer._thread.join(timeout=5)
    assert not checkpointer._thread.is_alive()
