"""The spool writes a put with a few multi-row statements and deletes acked runs by range."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from publisher.errors import StartRefused
from publisher.inputs.spool.db import SpoolDb, require_sqlite_version
from publisher.inputs.spool.inserts import MAX_ROWS, insert_rows


def open_db(path: Path) -> SpoolDb:
    return SpoolDb.open(path, max_events=100_000, max_bytes=1 << 30, synchronous="NORMAL")


def stored(path: Path) -> list[tuple[int, bytes, float, str]]:
    with sqlite3.connect(path) as conn:
        query = "SELECT id, body, enqueued_at, tenant FROM messages ORDER BY id"
        return conn.execute(query).fetchall()


@pytest.mark.parametrize("count", [1, 2, 3, MAX_ROWS - 1, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 7])
@pytest.mark.parametrize("mixed", [False, True])
def test_rows_go_in_as_given_with_consecutive_ids(tmp_path: Path, count: int, mixed: bool) -> None:
    path = tmp_path / "spool.db"
    db = open_db(path)
    bodies = [b'{"n": %d, "tenant": "t"}' % n for n in range(count)]
    tenants = [f"t{n % 3}" if mixed else "acme" for n in range(count)]
    with db.transaction():
        db.put([b"{}"], ["first"], 1.0)
    with db.transaction():
        first_id, others_put = db.put(bodies, tenants, 2.5)
    db.close()
    assert (first_id, others_put) == (2, False)
    rows = stored(path)[1:]
    assert rows == [(first_id + i, bodies[i], 2.5, tenants[i]) for i in range(count)]


def test_a_put_takes_a_statement_per_chunk_not_per_row(tmp_path: Path) -> None:
    db = open_db(tmp_path / "spool.db")
    inserts: list[str] = []
    db._conn.set_trace_callback(
        lambda sql: inserts.append(sql) if sql.startswith("INSERT INTO messages") else None
    )
    count = 2 * MAX_ROWS + 3
    with db.transaction():
        db.put([b"{}"] * count, ["acme"] * count, 1.0)
        db.put([b"{}"] * count, ["acme", "globex"] * MAX_ROWS + ["acme"] * 3, 1.0)
    db.close()
    assert len(inserts) == 2 * 4  # 64 + 64 + 2 + 1, twice


def test_bodies_and_tenants_must_pair_up(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(ValueError, match="1 tenants for 2 bodies"):
        insert_rows(conn, [b"{}", b"{}"], ["acme"], 1.0)


def test_acks_delete_runs_and_scattered_ids_and_count_them_per_tenant(tmp_path: Path) -> None:
    db = open_db(tmp_path / "spool.db")
    tenants = ["acme" if n % 3 else "globex" for n in range(100)]
    with db.transaction():
        db.put([b"{}"] * 100, tenants, 1.0)
    deletes: list[str] = []
    db._conn.set_trace_callback(lambda sql: deletes.append(sql) if "DELETE" in sql else None)
    acked = [*range(11, 41), 5, 7, 41, 60, 60, 99, 200, *range(70, 90), 41]
    with db.transaction():
        db.ack(acked)
    with db.transaction():
        db.ack(range(11, 20))  # already gone: nothing changes
    db._conn.set_trace_callback(None)
    left = [n for n in range(1, 101) if n not in set(acked)]
    assert [row[0] for row in stored(tmp_path / "spool.db")] == left
    assert db.backlog() == len(left)
    assert db.rows_by_tenant() == {
        "acme": sum(1 for n in left if tenants[n - 1] == "acme"),
        "globex": sum(1 for n in left if tenants[n - 1] == "globex"),
    }
    assert sum("BETWEEN" in sql for sql in deletes) == 2  # 11..41 and 70..89
    db.close()


def test_a_run_of_one_tenant_is_summed_without_grouping(tmp_path: Path) -> None:
    db = open_db(tmp_path / "spool.db")
    bodies = [b"x" * n for n in range(1, 41)]
    with db.transaction():
        db.put(bodies, ["acme"] * 20 + ["acme", "globex"] * 10, 1.0)
    statements: list[str] = []
    db._conn.set_trace_callback(statements.append)
    with db.transaction():
        db.ack(range(1, 21))  # acme's only
    grouped_for_one = sum("GROUP BY" in sql for sql in statements)
    assert db._totals() == (20, sum(range(21, 41)))
    assert db.rows_by_tenant() == {"acme": 10, "globex": 10}
    with db.transaction():
        db.ack(range(21, 41))  # both
    db._conn.set_trace_callback(None)
    assert grouped_for_one == 0
    assert sum("GROUP BY" in sql for sql in statements) == 1
    assert db._totals() == (0, 0)
    assert db.rows_by_tenant() == {}
    db.close()


def test_an_sqlite_older_than_3_35_is_refused_with_both_versions() -> None:
    require_sqlite_version((3, 35, 0))  # the oldest with UPDATE ... RETURNING: accepted
    with pytest.raises(StartRefused, match=r"SQLite 3\.35\.0 or newer; this Python has 3\.34\.1"):
        require_sqlite_version((3, 34, 1))
