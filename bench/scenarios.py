"""The scenarios: what each runs, on which core, and the figures it reports.

Every scenario returns a flat dict; throughput ones carry `events`, `events_per_s`, `cpu_s`
(CPU seconds of the process under test) and `cpu_ms_per_1k`. The emulator always runs
alone on core 0 and is reset before each run; `emulator_busy` is its CPU share of the run's
wall time (near 1.0 means the emulator, not the client, was the limit).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import events, instructions
from bench.commands import client_command, send_command
from bench.context import Context, Result, check_delivered, emulator_busy, per_1k_ms
from bench.cpu import CLIENT_CORE
from bench.procs import CLI, BenchError, write_config
from bench.runner import run_child

SEND_ONE_TARGET_CPU_S = 0.25
SEND_ONE_RUNS = 5


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    run: Callable[[Context], Result]
    what: str
    default: bool = True


def direct_client(kind: str) -> Callable[[Context], Result]:
    """A scenario running bench.clients `kind` (sdk or http) on the client core."""

    def run(ctx: Context) -> Result:
        result: Result = {}
        with emulator_busy(ctx, result):
            child = run_child(
                client_command(ctx, kind),
                CLIENT_CORE,
                ctx.scratch(kind) / "client.log",
                timeout_s=max(120, ctx.events / 500),
            )
        check_delivered(ctx, ctx.events)
        summary = child.summary
        result.update(
            events=ctx.events,
            events_per_s=summary["events_per_s"],
            cpu_s=child.finished.cpu_s,
            cpu_ms_per_1k=per_1k_ms(child.finished.cpu_s, ctx.events),
            steady_cpu_ms_per_1k=per_1k_ms(summary["loop_cpu_s"], ctx.events),
            startup_cpu_s=child.finished.cpu_s - summary["loop_cpu_s"],
            max_rss_kib=child.finished.max_rss_kib,
        )
        return result

    return run


def send_file(ctx: Context) -> Result:
    """`partner-publisher send FILE` end to end, the whole process on the client core."""
    directory = ctx.scratch("send")
    command, config_path = send_command(ctx, directory)
    result: Result = {}
    with emulator_busy(ctx, result):
        child = run_child(
            command, CLIENT_CORE, directory / "send.log", max(120, ctx.events / 500), directory
        )
    summary = child.summary
    if summary.get("published") != ctx.events:
        raise BenchError(f"send published {summary.get('published')} of {ctx.events}")
    check_delivered(ctx, ctx.events)
    startup_cpu_s = _send_startup_cpu_s(directory, config_path)
    result.update(
        events=ctx.events,
        events_per_s=summary["events_per_s"],
        cpu_s=child.finished.cpu_s,
        cpu_ms_per_1k=per_1k_ms(child.finished.cpu_s, ctx.events),
        steady_cpu_ms_per_1k=per_1k_ms(child.finished.cpu_s - startup_cpu_s, ctx.events),
        startup_cpu_s=startup_cpu_s,
        send_wall_s=child.wall_s,
        max_rss_kib=child.finished.max_rss_kib,
    )
    return result


def send_one_event(ctx: Context) -> Result:
    """`send` of a one-event file: what a short-lived `send` costs, nearly all of it start-up.
    SEND_ONE_RUNS processes one after another, the median reported: one process's 0.3 s of
    CPU swings by half with a moment's load on this shared machine."""
    directory = ctx.scratch("send_1")
    config_path, _ = write_config(directory, ctx.emulator.url)
    path = directory / "one.ndjson"
    events.write_ndjson(str(path), 1)
    ctx.emulator.reset()
    command = [*CLI, "send", str(path), "--config", str(config_path), "--progress-interval-s", "0"]
    runs = []
    for run in range(1, SEND_ONE_RUNS + 1):
        child = run_child(command, CLIENT_CORE, directory / f"send-{run}.log", 60, directory)
        if child.summary.get("published") != 1:
            raise BenchError(f"send of one event published {child.summary.get('published')}")
        runs.append(child.finished)
    check_delivered(ctx, SEND_ONE_RUNS)
    cpu_s = statistics.median(finished.cpu_s for finished in runs)
    return {
        "events": 1,
        "cpu_s": cpu_s,
        "startup_cpu_s": cpu_s,
        "runs_cpu_s": [finished.cpu_s for finished in runs],
        "target_cpu_s": SEND_ONE_TARGET_CPU_S,
        "max_rss_kib": max(finished.max_rss_kib for finished in runs),
    }


def _send_startup_cpu_s(directory: Path, config_path: Path) -> float:
    """CPU of `send` on an empty file: interpreter, imports, engine start and stop."""
    empty = directory / "empty.ndjson"
    empty.write_bytes(b"")
    command = [*CLI, "send", str(empty), "--config", str(config_path)]
    idle = run_child(command, CLIENT_CORE, directory / "send-empty.log", 60, directory)
    return idle.finished.cpu_s


def _all() -> list[Scenario]:
    # Imported here: the daemon scenarios build on the helpers above.
    from bench import daemon_scenarios as daemon
    from bench import fairness, ledger_footprint, quota
    from bench import queue_scenarios as queues

    return [
        Scenario("sdk_loop", direct_client("sdk"), "plain aiobotocore loop: 20/call, 32 in flight"),
        Scenario("aiohttp_unsigned", direct_client("http"), "same requests, unsigned aiohttp"),
        Scenario("send", send_file, "partner-publisher send FILE, end to end"),
        Scenario("send_1", send_one_event, "partner-publisher send of a one-event file"),
        Scenario("daemon_ingest", daemon.ingest_flood, "daemon: HTTP ingest (spool) to emulator"),
        Scenario(
            "daemon_ingest_20",
            daemon.ingest_flood_small_bodies,
            "daemon: HTTP ingest in 20-event bodies",
        ),
        Scenario(
            "daemon_ingest_no_ledger",
            daemon.ingest_flood_without_ledger,
            "daemon_ingest with the ledger off",
        ),
        Scenario("daemon_redis", daemon.redis_stream, "daemon: Redis Streams input to emulator"),
        Scenario("latency_5k", daemon.latency_5k, "daemon at 5,000 events/s, linger 20 ms"),
        Scenario("daemon_postgres", queues.daemon_postgres, "daemon: PostgreSQL outbox", False),
        Scenario("daemon_amqp", queues.daemon_amqp, "daemon: RabbitMQ quorum queue", False),
        Scenario(
            "outbox_latency",
            queues.outbox_latency,
            "outbox commit-to-AWS latency, 100 tx/s",
            False,
        ),
        Scenario("outbox_soak", queues.outbox_soak, "outbox table size under 500 tx/s", False),
        Scenario(
            "daemon_quota",
            quota.daemon_quota,
            "daemon on one core offered the default quota at ingest (--quota-rate)",
            False,
        ),
        Scenario(
            "spool_backlog_rss", daemon.spool_backlog, "peak RSS, 1M-event spool backlog", False
        ),
        Scenario("soak", daemon.soak, "RSS every 10 s at a steady load", False),
        Scenario(
            "ledger_footprint",
            ledger_footprint.footprint,
            "the ledger at 1,000,000 events: bytes and CPU per event",
            False,
        ),
        Scenario(
            "tenant_flood",
            fairness.tenant_flood,
            "100 calls/s held: a 24,000-event flood, then a trickle of another tenant",
            False,
        ),
        Scenario(
            "tenant_zipf",
            fairness.tenant_zipf,
            "100 calls/s held, 200 tenants, Zipf load at 120%: p99 per tenant",
            False,
        ),
        Scenario(
            "sdk_loop_instructions",
            instructions.sdk_loop,
            "sdk_loop's instructions (valgrind callgrind)",
            False,
        ),
        Scenario(
            "send_instructions",
            instructions.send,
            "send's instructions (valgrind callgrind)",
            False,
        ),
        Scenario(
            "daemon_instructions",
            instructions.daemon,
            "the daemon's instructions per event from ingest, start-up excluded (callgrind)",
            False,
        ),
        Scenario(
            "send_instructions_no_ledger",
            instructions.send_without_ledger,
            "send's instructions with the ledger off (valgrind callgrind)",
            False,
        ),
    ]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in _all()}
DEFAULT = [s.name for s in SCENARIOS.values() if s.default]
