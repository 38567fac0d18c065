"""Looking at a damaged spool file and copying every readable event out of it.

`check` reports what SQLite finds wrong (PRAGMA quick_check) and whether the file is the one
its mark describes. `salvage` copies every row it can still read, ids and receive times
kept, into a new spool file that takes the old one's place; the damaged file is kept beside
it (renamed), never changed, so nothing that could still be recovered by other means is lost.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from publisher.inputs.spool.db import SpoolDb
from publisher.inputs.spool.integrity import integrity_problems
from publisher.inputs.spool.mark import SpoolMark, lost_events, read_mark, write_mark

_CHUNK_IDS = 10_000
_WAL_SUFFIXES = ("-wal", "-shm")


@dataclass
class CheckReport:
    path: str
    problems: list[str] = field(default_factory=list)
    backlog: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class SalvageReport:
    path: str
    damaged_copy: str
    salvaged: int = 0
    unreadable_ranges: list[tuple[int, int]] = field(default_factory=list)
    """Id ranges (inclusive) whose rows could not be read: events lost to the damage."""


def check_spool(path: Path) -> CheckReport:
    """What is wrong with the spool file at `path` (nothing when `ok`)."""
    report = CheckReport(str(path))
    if not path.exists():
        report.problems.append("the spool file does not exist")
        return report
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        report.problems.extend(integrity_problems(conn, limit=100))
        spool_id, high_water, backlog = _describe(conn)
        report.backlog = backlog
    except sqlite3.DatabaseError as exc:
        report.problems.append(str(exc))
        return report
    finally:
        conn.close()
    mark = read_mark(path)
    lost = None if mark is None else lost_events(mark, spool_id, high_water)
    if lost is not None:
        report.problems.append(lost)
    return report


def salvage_spool(path: Path) -> SalvageReport:
    """Copy every readable row into a new spool at `path`; the damaged file is renamed."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    damaged = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", *_WAL_SUFFIXES):
        if Path(f"{path}{suffix}").exists():
            shutil.copy2(f"{path}{suffix}", f"{damaged}{suffix}")
    report = SalvageReport(str(path), str(damaged))
    fresh = path.with_name(path.name + ".salvaging")
    _remove_with_wal(fresh)
    source = sqlite3.connect(damaged)
    target = SpoolDb.open(fresh, 1 << 62, 1 << 62, "FULL")
    try:
        last_id = _last_id(source, read_mark(path))
        with target.transaction():
            spool_id = target.new_identity()
            _copy_rows(source, target, last_id, report)
            target.recount()
            high_water, pending = target.high_water(), target.backlog()
    finally:
        source.close()
        target.close()
    for suffix in _WAL_SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fresh.replace(path)
    write_mark(path, SpoolMark(spool_id, max(high_water, last_id), pending))
    return report


def _copy_rows(
    source: sqlite3.Connection, target: SpoolDb, last_id: int, report: SalvageReport
) -> None:
    for low in range(1, last_id + 1, _CHUNK_IDS):
        high = min(low + _CHUNK_IDS - 1, last_id)
        try:
            rows = _read_range(source, low, high)
        except sqlite3.DatabaseError:
            rows = _read_one_by_one(source, low, high, report)
        target.insert_exact(rows)
        report.salvaged += len(rows)


def _read_range(conn: sqlite3.Connection, low: int, high: int) -> list[tuple[int, bytes, float]]:
    statement = "SELECT id, body, enqueued_at FROM messages WHERE id BETWEEN ? AND ? ORDER BY id"
    return [(int(i), bytes(b), float(t)) for i, b, t in conn.execute(statement, (low, high))]


def _read_one_by_one(
    conn: sqlite3.Connection, low: int, high: int, report: SalvageReport
) -> list[tuple[int, bytes, float]]:
    rows: list[tuple[int, bytes, float]] = []
    for message_id in range(low, high + 1):
        try:
            rows.extend(_read_range(conn, message_id, message_id))
        except sqlite3.DatabaseError:
            ranges = report.unreadable_ranges
            if ranges and ranges[-1][1] == message_id - 1:
                ranges[-1] = (ranges[-1][0], message_id)
            else:
                ranges.append((message_id, message_id))
    return rows


def _last_id(conn: sqlite3.Connection, mark: SpoolMark | None) -> int:
    """The highest id to look for: what the file or its mark says, whichever is higher."""
    candidates = [mark.high_water_id if mark else 0]
    for statement in (
        "SELECT seq FROM sqlite_sequence WHERE name = 'messages'",
        "SELECT max(id) FROM messages",
    ):
        try:
            row = conn.execute(statement).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0] is not None:
            candidates.append(int(row[0]))
    return max(candidates)


def _describe(conn: sqlite3.Connection) -> tuple[str | None, int, int]:
    """(spool id, high-water id, backlog) as the file records them."""
    spool_id = None
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'identity'").fetchone():
        row = conn.execute("SELECT spool_id FROM identity").fetchone()
        spool_id = str(row[0]) if row else None
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    (backlog,) = conn.execute("SELECT events FROM totals").fetchone()
    return spool_id, int(row[0]) if row else 0, int(backlog)


def _remove_with_wal(path: Path) -> None:
    for suffix in ("", *_WAL_SUFFIXES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
