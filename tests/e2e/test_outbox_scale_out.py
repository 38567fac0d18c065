"""Daemons on a PostgreSQL outbox as processes: an application writing (and rolling back) in its
own transactions, two replicas sharing the table, one SIGKILLed, commit-to-AWS latency."""

from __future__ import annotations

import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from publisher import outbox
from tests.conftest import CLI, cli_env, emulator_process, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    emulator_events,
    input_config,
    kill_at_work,
)

DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
VISIBILITY_S = 3.0


def postgres_source(table: str) -> dict[str, Any]:
    return {
        "kind": "postgres",
        "dsn": DSN,
        "table": table,
        "visibility_timeout_s": VISIBILITY_S,
        "poll_interval_s": 0.5,
    }


@contextmanager
def outbox_table(config: Path, table: str) -> Iterator[None]:
    """The table as `outbox install` creates it (twice: it is idempotent); dropped afterwards."""
    for _ in range(2):
        done = subprocess.run(
            [*CLI, "outbox", "install", "--config", str(config)],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"DROP FUNCTION IF EXISTS {table}_notify()")


@dataclass
class App:
    """The partner's application: transactions that insert an order row's event, 10% of which
    roll back. Records what it committed (and when) and what it rolled back."""

    table: str
    committed: dict[int, float] = field(default_factory=dict)
    rolled_back: set[int] = field(default_factory=set)
    errors: list[BaseException] = field(default_factory=list)

    def write(self, numbers: range, per_second: float | None = None) -> None:
        rng = random.Random(numbers.start)
        with psycopg.connect(DSN) as conn:
            for n in numbers:
                started = time.monotonic()
                event = {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}}
                with conn.transaction(force_rollback=(roll_back := rng.random() < 0.1)):
                    outbox.add(conn, event, table=self.table)
                if roll_back:
                    self.rolled_back.add(n)
                else:
                    self.committed[n] = time.time()
                if per_second:
                    time.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))

    def write_in_background(self, numbers: range, per_second: float) -> threading.Thread:
        def run() -> None:
            try:
                self.write(numbers, per_second)
            except BaseException as exc:  # surfaced by the test thread
                self.errors.append(exc)

        thread = threading.Thread(target=run, name="app", daemon=True)
        thread.start()
        return thread


def published(url: str) -> Counter[int]:
    return Counter(event["detail"]["n"] for event in emulator_events(url))


def rows_left(table: str) -> int:
    with psycopg.connect(DSN) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else -1


def leased_by(table: str, pid: int) -> int:
    """Rows the process with `pid` holds a live lease on (its replica name holds the pid)."""
    with psycopg.connect(DSN) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE leased_by LIKE %s AND visible_at > now()",
            (f"%-{pid}-%",),
        ).fetchone()
        return int(row[0]) if row else 0


def configs(tmp_path: Path, url: str, table: str, **publish: Any) -> list[Path]:
    return [
        input_config(
            tmp_path / f"replica-{index}",
            url,
            postgres_source(table),
            publish={"max_in_flight": 2, "linger_ms": 5, **publish},
            ingest={"enabled": False},
        )
        for index in range(2)
    ]


def start(paths: list[Path], tmp_path: Path) -> list[Daemon]:
    return [Daemon(path, tmp_path / f"replica-{i}.log") for i, path in enumerate(paths)]


def test_two_replicas_publish_every_committed_event_and_no_rolled_back_one(tmp_path: Path) -> None:
    table = f"e2e_outbox_{uuid.uuid4().hex[:12]}"
    app = App(table)
    daemons: list[Daemon] = []
    with emulator_process(LENIENT, "--latency-ms", "100") as url:
        paths = configs(tmp_path, url, table, max_buffered_events=100)
        try:
            with outbox_table(paths[0], table):
                app.write(range(0, 1500))  # written before the daemons start
                daemons = start(paths, tmp_path)
                for replica in daemons:
                    replica.wait_ready()
                writer = app.write_in_background(range(1500, 3000), per_second=300)
                victim = daemons[0]
                kill_at_work(
                    victim, "publisher_events_published_total", 15, "the first replica to publish"
                )
                assert leased_by(table, victim.proc.pid) > 0, "the victim held no leases"
                assert len(published(url)) < len(app.committed), "the kill came too late"
                writer.join(60)
                assert not writer.is_alive()
                assert not app.errors, app.errors

                wait_until(
                    lambda: set(published(url)) >= set(app.committed),
                    45,
                    "every committed event, the killed replica's leases taken over",
                )
                wait_until(lambda: rows_left(table) == 0, 10, "the outbox to be empty")
                seen = published(url)
        finally:
            for replica in daemons:
                replica.stop()
    assert set(seen) == set(app.committed)
    assert not set(seen) & app.rolled_back
    assert 100 < len(app.rolled_back) < 500  # about 10% of 3000 transactions
    assert sum(seen.values()) - len(app.committed) <= 100  # only the killed one's leases


def test_events_committed_while_replicas_run_reach_aws_within_a_second(tmp_path: Path) -> None:
    table = f"e2e_outbox_{uuid.uuid4().hex[:12]}"
    app = App(table)
    daemons: list[Daemon] = []
    with emulator_process(LENIENT) as url:
        paths = configs(tmp_path, url, table)
        try:
            with outbox_table(paths[0], table):
                daemons = start(paths, tmp_path)
                for replica in daemons:
                    replica.wait_ready()
                app.write(range(400), per_second=40)  # light load: 40 transactions/s
                wait_until(lambda: set(published(url)) >= set(app.committed), 15, "every event")
                arrivals = {e["detail"]["n"]: e["received_at"] for e in emulator_events(url)}
        finally:
            for replica in daemons:
                replica.stop()
    latencies = sorted(arrivals[n] - committed for n, committed in app.committed.items())
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < 1.0, f"commit-to-AWS p99 {p99:.3f} s (median {latencies[len(latencies) // 2]:.3f})"
