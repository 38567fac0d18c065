"""The remembered-keys log and its index in memory (publisher.inputs.dedupe_sql)."""

from __future__ import annotations

import sqlite3

from publisher.inputs import dedupe_sql
from publisher.inputs.dedupe import DedupeLimits

LIMITS = DedupeLimits(window_s=100, max_ids=3)


def remember(conn: sqlite3.Connection, memory: dedupe_sql.RememberedKeys, *keys: str) -> None:
    conn.execute("BEGIN")
    dedupe_sql.remember(conn, memory, list(keys), 1000.0, LIMITS)
    conn.execute("COMMIT")
    memory.commit()


def opened() -> tuple[sqlite3.Connection, dedupe_sql.RememberedKeys]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    dedupe_sql.create(conn)
    memory = dedupe_sql.RememberedKeys()
    memory.load_once(conn, 1000.0)
    return conn, memory


def test_staged_keys_count_only_once_committed() -> None:
    conn, memory = opened()
    conn.execute("BEGIN")
    dedupe_sql.remember(conn, memory, ["a"], 1000.0, LIMITS)
    assert memory.known(["a", "b", None], 1000.0) == {"a"}  # later puts of the same group see it
    conn.execute("ROLLBACK")
    memory.rollback()
    assert memory.known(["a"], 1000.0) == set()
    assert dedupe_sql.count(conn) == 0


def test_keys_expire_and_the_oldest_go_past_the_cap() -> None:
    conn, memory = opened()
    remember(conn, memory, "a", "b")
    remember(conn, memory, "c", "d")
    assert memory.known(["a", "b", "c", "d"], 1000.0) == {"b", "c", "d"}
    assert len(memory) == 3
    assert dedupe_sql.count(conn) == 3
    assert memory.known(["b", "c", "d"], 1100.0) == set()  # now + window: expired


def test_a_new_index_reads_the_log() -> None:
    conn, memory = opened()
    remember(conn, memory, "a", "b")
    fresh = dedupe_sql.RememberedKeys()
    fresh.load_once(conn, 1000.0)
    assert fresh.known(["a", "b", "c"], 1000.0) == {"a", "b"}
    later = dedupe_sql.RememberedKeys()
    later.load_once(conn, 1100.0)
    assert len(later) == 0


def test_keys_are_appended_many_to_a_statement_in_order() -> None:
    conn, memory = opened()
    appends: list[str] = []
    conn.set_trace_callback(lambda sql: appends.append(sql) if "INSERT" in sql else None)
    keys = [f"k{n}" for n in range(131)]
    conn.execute("BEGIN")
    dedupe_sql.remember(conn, memory, keys, 1000.0, DedupeLimits(window_s=100, max_ids=1000))
    conn.execute("COMMIT")
    conn.set_trace_callback(None)
    assert len(appends) == 4  # 64 + 64 + 2 + 1
    logged = [bytes(row[0]) for row in conn.execute("SELECT key_hash FROM dedupe_log ORDER BY seq")]
    assert logged == [dedupe_sql.key_hash(key) for key in keys]
    fresh = dedupe_sql.RememberedKeys()
    fresh.load_once(conn, 1000.0)
    assert fresh.known(keys, 1000.0) == set(keys)
