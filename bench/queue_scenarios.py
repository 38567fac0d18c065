"""Scenarios of the daemon on the PostgreSQL outbox and on RabbitMQ (the local servers on
127.0.0.1:5432 and :5672, as .ci/services.sh starts them; each run uses its own table or queue
and removes it).

- daemon_postgres / daemon_amqp: one replica, two phases of N events each; the harness
  (moved to core 0) writes as fast as it can, and the server's processes (postgres, beam.smp)
  move to core 0 for the run, as the emulator and redis-server run there. CPU is the daemon's.
  1. backlog (the figures the targets compare): the daemon is stopped (SIGSTOP) while the
     harness fills, then resumed; events/s = N / (resume to the emulator's `received_at` of the
     last event). The daemon sets the pace, as in daemon_ingest and daemon_redis, whose
     producers outrun it.
  2. live (`live_*`): the harness fills while the daemon drains; events/s = N / (first write
     to the last event at the emulator). On this machine the producer sets that pace (RabbitMQ
     took confirmed publishes at ~5,000/s, reported as `broker_intake_events_per_s`), and a
     daemon woken for every few events spends more per event; so live figures vary with the
     broker's pace, and are reported, not held to the spool's.
- outbox_latency: an application committing one event per transaction at a light, steady rate;
  latency = the emulator's `received_at` - the wall time just before COMMIT (so it includes
  the commit itself).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from bench import events
from bench.context import Context, Result, emulator_busy, per_1k_ms
from bench.cpu import CpuMeter, system_server_on_server_core
from bench.daemon_scenarios import _daemon, _on_server_core, percentile
from bench.procs import Daemon

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
WRITE_BATCH = 1000
LATENCY_TPS = 100
"""Transactions (one event each) per second in outbox_latency: a light load."""
SOAK_TPS = 500
SOAK_SAMPLE_S = 10.0
SOAK_VACUUM_S = 30.0


def daemon_postgres(ctx: Context) -> Result:
    """One replica draining an outbox the harness fills with multi-row INSERTs."""
    import psycopg

    table = f"bench_outbox_{uuid.uuid4().hex[:12]}"
    _install(table)
    try:
        source = {"kind": "postgres", "dsn": POSTGRES_DSN, "table": table}
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:

            def fill(first: int) -> None:
                statement = f"INSERT INTO {table} (event) SELECT unnest(%s::jsonb[])"
                for start, count in events.batches(ctx.events, WRITE_BATCH):
                    lines = events.ndjson(first + start, count).decode().splitlines()
                    conn.execute(statement, (lines,))

            return _drain(ctx, "daemon_postgres", source, fill, server="postgres")
    finally:
        _drop(table)


def daemon_amqp(ctx: Context) -> Result:
    """One replica draining a quorum queue that the harness fills with confirmed publishes;
    the broker's intake (reported) bounds events/s on a small machine."""
    queue = f"bench-{uuid.uuid4().hex[:12]}"
    source = {"kind": "amqp", "url": AMQP_URL, "queue": queue}
    intake: dict[str, float] = {}

    def fill(first: int) -> None:
        started = time.monotonic()
        asyncio.run(_publish(ctx, queue, first))
        intake["events_per_s"] = ctx.events / (time.monotonic() - started)

    try:
        result = _drain(ctx, "daemon_amqp", source, fill, server="beam.smp")
        result["broker_intake_events_per_s"] = round(intake["events_per_s"], 1)
        return result
    finally:
        asyncio.run(_delete_queue(queue))


def outbox_latency(ctx: Context) -> Result:
    """Commit-to-AWS latency of an outbox at LATENCY_TPS one-event transactions per second."""
    import psycopg

    duration_s = 5.0 if ctx.quick else 20.0
    table = f"bench_outbox_{uuid.uuid4().hex[:12]}"
    _install(table)
    result: Result = {}
    try:
        source = {"kind": "postgres", "dsn": POSTGRES_DSN, "table": table}
        with (
            _daemon(ctx, "outbox_latency", input=source, ingest={"enabled": False}) as daemon,
            emulator_busy(ctx, result, reset=False),
            psycopg.connect(POSTGRES_DSN) as conn,
        ):
            meter = CpuMeter(daemon.pid)
            meter.start()
            with _on_server_core():
                sent = _commit_paced(conn, table, duration_s)
            assert daemon.proc is not None
            ctx.emulator.wait_for(sent, 60, daemon.proc, daemon.dead_letters)
            cpu_s = meter.stop()
            records = ctx.emulator.events_since(0)
    finally:
        _drop(table)
    latencies = sorted((r["received_at"] - r["detail"]["sent_at"]) * 1000 for r in records)
    result.update(
        events=sent,
        events_per_s=LATENCY_TPS,
        cpu_s=cpu_s,
        cpu_ms_per_1k=per_1k_ms(cpu_s, sent),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1],
        mean_ms=statistics.fmean(latencies),
        target_p99_ms=1000,
        target_met=percentile(latencies, 99) < 1000,
    )
    return result


def outbox_soak(ctx: Context) -> Result:
    """The outbox table's size on disk, sampled every 10 s under a steady load: published rows
    are deleted, so with autovacuum keeping up it levels off instead of growing."""
    import psycopg

    duration_s = 30.0 if ctx.quick else ctx.soak_s
    table = f"bench_outbox_{uuid.uuid4().hex[:12]}"
    _install(table)
    samples: list[dict[str, float]] = []
    try:
        source: dict[str, Any] = {"kind": "postgres", "dsn": POSTGRES_DSN, "table": table}
        with psycopg.connect(POSTGRES_DSN) as conn:
            autovacuum = conn.execute("SHOW autovacuum").fetchone() == ("on",)
        if not autovacuum:  # a server without it: the daemon vacuums (input.vacuum_interval_s)
            source["vacuum_interval_s"] = SOAK_VACUUM_S
        with (
            _daemon(ctx, "outbox_soak", input=source, ingest={"enabled": False}) as daemon,
            psycopg.connect(POSTGRES_DSN) as conn,
            psycopg.connect(POSTGRES_DSN, autocommit=True) as probe,
        ):
            started = time.monotonic()
            sent = 0
            while time.monotonic() - started < duration_s:
                sent += _commit_paced(conn, table, SOAK_SAMPLE_S, SOAK_TPS, first=sent)
                ctx.emulator.reset()  # keeps the emulator's own event log small
                samples.append({"t_s": round(time.monotonic() - started, 1), **_size(probe, table)})
            published = daemon.metric("publisher_events_published_total")
    finally:
        _drop(table)
    sizes = [sample["table_kib"] for sample in samples]
    return {
        "duration_s": duration_s,
        "rate": SOAK_TPS,
        "vacuum": "autovacuum" if autovacuum else f"the daemon, every {SOAK_VACUUM_S:.0f} s",
        "committed": sent,
        "published": published,
        "samples": samples,
        "table_first_kib": sizes[0] if sizes else 0,
        "table_last_kib": sizes[-1] if sizes else 0,
        "table_max_kib": max(sizes, default=0),
    }


def _size(conn: Any, table: str) -> dict[str, float]:
    row = conn.execute(
        "SELECT pg_total_relation_size(%s::regclass) / 1024, n_live_tup, n_dead_tup,"
        " vacuum_count + autovacuum_count FROM pg_stat_user_tables WHERE relid = %s::regclass",
        (table, table),
    ).fetchone()
    keys = ("table_kib", "live_rows", "dead_rows", "vacuums")
    return dict(zip(keys, (float(value) for value in row), strict=True)) if row else {}


def _commit_paced(
    conn: Any, table: str, duration_s: float, per_second: float = LATENCY_TPS, first: int = 0
) -> int:
    statement = f"INSERT INTO {table} (event) VALUES (%s::jsonb)"
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < duration_s:
        event = events.event(first + sent)
        with conn.transaction():
            event["detail"] = {**event["detail"], "sent_at": time.time()}  # type: ignore[dict-item]
            conn.execute(statement, (orjson.dumps(event).decode(),))
        sent += 1
        time.sleep(max(0.0, started + sent / per_second - time.monotonic()))
    return sent


def _drain(
    ctx: Context, name: str, source: dict[str, Any], fill: Callable[[int], None], server: str
) -> Result:
    result: Result = {}
    with (
        system_server_on_server_core(server) as server_threads_moved,
        _daemon(ctx, name, input=source, ingest={"enabled": False}) as daemon,
        emulator_busy(ctx, result, reset=False),
    ):
        meter = CpuMeter(daemon.pid)
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            with _on_server_core():
                fill(0)
        finally:
            meter.start()
            resumed_at = time.time()
            os.kill(daemon.pid, signal.SIGCONT)
        backlog = _delivered(ctx, daemon, meter, resumed_at, ctx.events)

        meter.start()
        first_write_at = time.time()
        with _on_server_core():
            fill(ctx.events)
        live = _delivered(ctx, daemon, meter, first_write_at, 2 * ctx.events)
    result.update(
        events=ctx.events,
        events_per_s=backlog["events_per_s"],
        cpu_s=backlog["cpu_s"],
        cpu_ms_per_1k=backlog["cpu_ms_per_1k"],
        steady_cpu_ms_per_1k=backlog["cpu_ms_per_1k"],
        live_events_per_s=live["events_per_s"],
        live_cpu_s=live["cpu_s"],
        live_cpu_ms_per_1k=live["cpu_ms_per_1k"],
        server_threads_on_core_0=server_threads_moved,
    )
    return result


def _delivered(
    ctx: Context, daemon: Daemon, meter: CpuMeter, since: float, total: int
) -> dict[str, float]:
    """Wait until the emulator holds `total` events; this phase's rate and the daemon's CPU."""
    assert daemon.proc is not None
    ctx.emulator.wait_for(total, max(120, ctx.events / 500), daemon.proc, daemon.dead_letters)
    cpu_s = meter.stop()
    elapsed = ctx.emulator.last_received_at(total) - since
    return {
        "events_per_s": ctx.events / elapsed,
        "cpu_s": cpu_s,
        "cpu_ms_per_1k": per_1k_ms(cpu_s, ctx.events),
    }


async def _publish(ctx: Context, queue: str, first: int) -> None:
    """Every event, persistent, with publisher confirms, WRITE_BATCH confirms awaited at once.
    The queue is declared as the daemon would (quorum, durable) in case this runs first."""
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel(publisher_confirms=True) as channel:
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
        exchange = channel.default_exchange
        for start, count in events.batches(ctx.events, WRITE_BATCH):
            lines = events.ndjson(first + start, count).splitlines()
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(line, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        queue,
                    )
                    for line in lines
                )
            )


async def _delete_queue(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel() as channel:
        await channel.queue_delete(queue)


def _install(table: str) -> None:
    import psycopg

    from publisher.inputs.outbox_sql import OutboxSql

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(OutboxSql(table).ddl())


def _drop(table: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_notify()")
