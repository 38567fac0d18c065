"""Scenarios that run the daemon (`partner-publisher run`) on the client core.

The load generator runs on core 0 beside the emulator, so the daemon has core 1 to itself,
as `send` has; its CPU and the emulator's are reported (`server_core_busy`) to show when
core 0, not the daemon, was the limit.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import events
from bench.commands import loadgen_command
from bench.context import Context, Result, check_delivered, emulator_busy, per_1k_ms
from bench.cpu import SERVER_CORE, CpuMeter, can_pin, pinned, proc_status_kib
from bench.procs import BenchError, Daemon, child_env, free_port, stop_process
from bench.procs import write_config as write_daemon_config
from bench.runner import run_child

LATENCY_RATE = 5000
LATENCY_BODY_EVENTS = 50
LINGER_MS = 20
LATENCY_TARGET_MS = LINGER_MS + 25
BACKLOG_EVENTS = 1_000_000
SOAK_RATE = 2000
SOAK_SAMPLE_S = 10
REDIS_PROBE_URL = "redis://127.0.0.1:1/0"


def _daemon(ctx: Context, name: str, endpoint: str | None = None, **sections: Any) -> Daemon:
    """A daemon for one run. The emulator is reset first: resetting it under a running daemon
    could answer the daemon's first source-state check before the source exists again."""
    ctx.emulator.reset()
    directory = ctx.scratch(name)
    path, config = write_daemon_config(directory, endpoint or ctx.emulator.url, **sections)
    # With AWS down on purpose, the daemon is alive but need not call itself ready.
    return Daemon(directory, path, config, "/readyz" if endpoint is None else "/healthz")


def ingest_flood(ctx: Context) -> Result:
    """N events POSTed in bodies of 500 as fast as accepted; N / (first POST to all delivered)."""
    return _ingest_flood(ctx, "daemon_ingest", 500)


def ingest_flood_small_bodies(ctx: Context) -> Result:
    """The same with bodies of 20 events: the per-request cost of ingest shows."""
    return _ingest_flood(ctx, "daemon_ingest_20", 20)


def ingest_flood_without_ledger(ctx: Context) -> Result:
    """daemon_ingest with the ledger off (ledger.retention_s: 0): what the ledger costs."""
    return _ingest_flood(ctx, "daemon_ingest_no_ledger", 500, ledger={"retention_s": 0})


def _ingest_flood(ctx: Context, name: str, body_events: int, **sections: Any) -> Result:
    result: Result = {"body_events": body_events}
    with _daemon(ctx, name, **sections) as daemon, emulator_busy(ctx, result, reset=False):
        meter, emulator_cpu = CpuMeter(daemon.pid), ctx.emulator.cpu_meter()
        meter.start()
        emulator_cpu.start()
        flood = run_child(
            loadgen_command(
                "flood",
                daemon.ingest_url,
                "--events",
                str(ctx.events),
                "--body-events",
                str(body_events),
            ),
            SERVER_CORE,
            daemon.directory / "loadgen.log",
            timeout_s=max(300, ctx.events / 200),
        )
        assert daemon.proc is not None
        ctx.emulator.wait_for(
            ctx.events, max(120, ctx.events / 500), daemon.proc, daemon.dead_letters
        )
        cpu_s = meter.stop()
        done_at = ctx.emulator.last_received_at(ctx.events)
        elapsed = done_at - flood.summary["first_post_at"]
        server_cpu = emulator_cpu.stop() + flood.finished.cpu_s
        result.update(
            events=ctx.events,
            events_per_s=ctx.events / elapsed,
            cpu_s=cpu_s,
            cpu_ms_per_1k=per_1k_ms(cpu_s, ctx.events),
            steady_cpu_ms_per_1k=per_1k_ms(cpu_s, ctx.events),
            ingest_events_per_s=ctx.events
            / (flood.summary["last_accepted_at"] - flood.summary["first_post_at"]),
            retries_503=flood.summary["retries_503"],
            loadgen_cpu_s=flood.finished.cpu_s,
            server_core_busy=round(server_cpu / elapsed, 3),
            daemon_core_busy=round(cpu_s / elapsed, 3),
            daemon_hwm_kib=proc_status_kib(daemon.pid, "VmHWM"),
        )
    check_delivered(ctx, ctx.events)
    return result


def redis_unavailable_reason() -> str | None:
    """Why `input: {kind: redis}` cannot be benchmarked, or None when it can."""
    from pydantic import ValidationError

    from publisher.inputs.factory import build_input
    from publisher.settings import Settings

    try:
        settings = Settings.model_validate({"input": {"kind": "redis", "url": REDIS_PROBE_URL}})
    except ValidationError as exc:
        return "config does not accept input kind redis: " + exc.errors()[0]["msg"]
    try:
        # Building the adapter does not connect; a missing adapter says so at once.
        build_input(settings.input)
    except NotImplementedError as exc:
        return f"the config accepts kind redis but the daemon has no such input yet ({exc})"
    except ImportError as exc:
        return f"the redis input cannot be loaded: {exc}"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis client package is not installed"
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0:
        return "redis-server is not installed"
    return None


def redis_stream(ctx: Context) -> Result:
    """The daemon reading a Redis stream that is filled as fast as redis-py can pipeline."""
    reason = redis_unavailable_reason()
    if reason is not None:
        return {"available": False, "reason": reason}
    import redis

    port = free_port()
    server = subprocess.Popen(
        pinned(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], SERVER_CORE
        ),
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        _wait_redis(client)
        url = f"redis://127.0.0.1:{port}/0"
        source = {"kind": "redis", "url": url, "stream": "partner-events", "group": "publisher"}
        return _drain_redis(ctx, client, source)
    finally:
        stop_process(server, 10)


def _wait_redis(client: Any) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise BenchError("redis-server did not start") from None
            time.sleep(0.05)


def _drain_redis(ctx: Context, client: Any, source: dict[str, str]) -> Result:
    result: Result = {}
    with (
        _daemon(ctx, "daemon_redis", input=source) as daemon,
        emulator_busy(ctx, result, reset=False),
    ):
        meter = CpuMeter(daemon.pid)
        meter.start()
        first_add_at = time.time()
        with _on_server_core():
            for start, count in events.batches(ctx.events, 1000):
                pipe = client.pipeline(transaction=False)
                for line in events.ndjson(start, count).splitlines():
                    pipe.xadd(source["stream"], {"event": line})
                pipe.execute()
        assert daemon.proc is not None
        ctx.emulator.wait_for(
            ctx.events, max(120, ctx.events / 500), daemon.proc, daemon.dead_letters
        )
        cpu_s = meter.stop()
        elapsed = ctx.emulator.last_received_at(ctx.events) - first_add_at
        result.update(
            events=ctx.events,
            events_per_s=ctx.events / elapsed,
            cpu_s=cpu_s,
            cpu_ms_per_1k=per_1k_ms(cpu_s, ctx.events),
            steady_cpu_ms_per_1k=per_1k_ms(cpu_s, ctx.events),
        )
    return result


@contextmanager
def _on_server_core() -> Iterator[None]:
    """Run this (harness) process on core 0 for a while, off the daemon's core."""
    before = os.sched_getaffinity(0)
    if can_pin():
        os.sched_setaffinity(0, {SERVER_CORE})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_5k(ctx: Context) -> Result:
    """A fixed offered load through ingest; latency = emulator received_at - detail.sent_at."""
    duration = 3.0 if ctx.quick else 10.0
    result: Result = {}
    publish = {"linger_ms": LINGER_MS}
    with (
        _daemon(ctx, "latency_5k", publish=publish) as daemon,
        emulator_busy(ctx, result, reset=False),
    ):
        meter = CpuMeter(daemon.pid)
        meter.start()
        flags = ["--rate", str(LATENCY_RATE), "--body-events", str(LATENCY_BODY_EVENTS)]
        paced = run_child(
            loadgen_command("paced", daemon.ingest_url, *flags, "--duration-s", str(duration)),
            SERVER_CORE,
            daemon.directory / "loadgen.log",
            timeout_s=duration + 120,
        )
        sent = int(paced.summary["sent"])
        assert daemon.proc is not None
        ctx.emulator.wait_for(sent, 60, daemon.proc, daemon.dead_letters)
        cpu_s = meter.stop()
        records = ctx.emulator.events_since(0)
    latencies = sorted((r["received_at"] - r["detail"]["sent_at"]) * 1000 for r in records)
    p99 = percentile(latencies, 99)
    result.update(
        events=sent,
        events_per_s=paced.summary["offered_events_per_s"],
        cpu_s=cpu_s,
        cpu_ms_per_1k=per_1k_ms(cpu_s, sent),
        steady_cpu_ms_per_1k=per_1k_ms(cpu_s, sent),
        p50_ms=percentile(latencies, 50),
        p99_ms=p99,
        max_ms=latencies[-1],
        mean_ms=statistics.fmean(latencies),
        target_p99_ms=LATENCY_TARGET_MS,
        target_met=p99 <= LATENCY_TARGET_MS,
        max_schedule_lag_ms=paced.summary["max_schedule_lag_ms"],
        retries_503=paced.summary["retries_503"],
    )
    return result


def spool_backlog(ctx: Context) -> Result:
    """Peak RSS of the daemon holding a 1M-event spool backlog it cannot drain (AWS is down)."""
    total = 50_000 if ctx.quick else BACKLOG_EVENTS
    down = f"http://127.0.0.1:{free_port()}"
    sections: dict[str, Any] = {
        "input": {"max_events": total * 2, "max_bytes": 8 << 30},
        "retry": {"max_attempts": 1000, "max_delay_ms": 5000},  # the most the config allows
    }
    with _daemon(ctx, "spool_backlog", endpoint=down, **sections) as daemon:
        rss_before = proc_status_kib(daemon.pid, "VmRSS")
        meter = CpuMeter(daemon.pid)
        meter.start()
        flood = run_child(
            loadgen_command("flood", daemon.ingest_url, "--events", str(total)),
            SERVER_CORE,
            daemon.directory / "loadgen.log",
            timeout_s=1800,
        )
        time.sleep(2)  # let a retry cycle or two run against the full backlog
        cpu_s = meter.stop()
        elapsed = flood.summary["last_accepted_at"] - flood.summary["first_post_at"]
        return {
            "events": total,
            "ingest_events_per_s": total / elapsed,
            "cpu_s": cpu_s,
            "cpu_ms_per_1k": per_1k_ms(cpu_s, total),
            "rss_start_kib": rss_before,
            "rss_end_kib": proc_status_kib(daemon.pid, "VmRSS"),
            "peak_rss_kib": proc_status_kib(daemon.pid, "VmHWM"),
            "spool_bytes": _spool_bytes(daemon.directory),
            "retries_503": flood.summary["retries_503"],
        }


def _spool_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("spool.db*"))


def soak(ctx: Context) -> Result:
    """RSS sampled every 10 s while the daemon publishes a steady load."""
    duration = 30.0 if ctx.quick else ctx.soak_s
    samples: list[dict[str, float]] = []
    with _daemon(ctx, "soak") as daemon:
        flags = ["--rate", str(SOAK_RATE), "--body-events", "50", "--duration-s", str(duration)]
        command = loadgen_command("paced", daemon.ingest_url, *flags)
        with open(daemon.directory / "loadgen.log", "wb") as log:
            gen = subprocess.Popen(
                pinned(command, SERVER_CORE), stdout=log, stderr=log, env=child_env()
            )
        started = time.monotonic()
        try:
            while gen.poll() is None:
                time.sleep(SOAK_SAMPLE_S)
                # Resetting keeps the emulator's own event log small over a long soak.
                ctx.emulator.reset()
                now_kib = proc_status_kib(daemon.pid, "VmRSS")
                samples.append({"t_s": round(time.monotonic() - started, 1), "rss_kib": now_kib})
        finally:
            stop_process(gen, 10)
        time.sleep(2)  # the last bodies' linger and calls
        published = daemon.metric("publisher_events_published_total")
        hwm = proc_status_kib(daemon.pid, "VmHWM")
    rss = [s["rss_kib"] for s in samples]
    return {
        "duration_s": duration,
        "rate": SOAK_RATE,
        "delivered": published,
        "samples": samples,
        "rss_first_kib": rss[0] if rss else 0,
        "rss_last_kib": rss[-1] if rss else 0,
        "peak_rss_kib": hwm,
    }
