"""On demand: can one daemon on one core carry the default account quota from HTTP ingest?

The load generator offers a fixed rate (default 28,000 events/s: 1,400 PutPartnerEvents
calls/s of 20 entries) in 1,000-event NDJSON bodies of about 500-byte events, open loop, for
a warm-up and then a measured window. At the window's edges the harness (on core 0, beside
the emulator and the load generator) samples the daemon's CPU, its backlog (`GET
/v1/tenants`) and how many events the emulator had received by then (by `received_at`).
The daemon keeps the reference config, its call rate limit at the default quota (or at the
offered rate over 20 when that is higher, so the limit never caps the offered load).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bench.commands import loadgen_command
from bench.context import Context, Result
from bench.cpu import (
    CLIENT_CORE,
    SERVER_CORE,
    can_pin,
    core_busy_s,
    pinned,
    proc_cpu_s,
    wait_with_rusage,
)
from bench.daemon_scenarios import _daemon, _on_server_core
from bench.procs import BenchError, Daemon, Emulator, child_env, http_json, stop_process

BODY_EVENTS = 1000
DEFAULT_CALL_RATE = 1400  # publish.rate_limit_rps's default: AWS's default quota
ENTRIES_PER_CALL = 20
WARMUP_S, WINDOW_S = 2.0, 10.0
QUICK_WARMUP_S, QUICK_WINDOW_S = 1.0, 3.0
CARRIED_SHARE = 0.98  # delivered / offered
MAX_CPU_SHARE = 0.95  # "with CPU to spare": the daemon's core not saturated
# The first page read back from the emulator at a window edge; sampling lags the edge by a
# few milliseconds, i.e. a few hundred events at the quota.
EDGE_PAGE = 400
MAX_PAGE = 100_000  # the most the emulator answers at once


@dataclass(frozen=True, slots=True)
class Sample:
    """The daemon and the emulator at one edge of the window."""

    wall: float
    daemon_cpu_s: float
    emulator_cpu_s: float
    core_busy_s: float | None  # the daemon core's busy time, whoever ran on it
    delivered: int  # events the emulator received before the edge
    entries: int  # entries the emulator accepted when sampled, a moment after the edge
    calls_ok: int  # its successful calls then
    backlog: int | None


def daemon_quota(ctx: Context) -> Result:
    """Offer ctx.quota_rate events/s at ingest; report offered, delivered, CPU, backlog."""
    rate = ctx.quota_rate
    warmup_s, window_s = (QUICK_WARMUP_S, QUICK_WINDOW_S) if ctx.quick else (WARMUP_S, WINDOW_S)
    call_rate = max(DEFAULT_CALL_RATE, rate / ENTRIES_PER_CALL)
    with _daemon(ctx, "daemon_quota", publish={"rate_limit_rps": call_rate}) as daemon:
        command = loadgen_command(
            "steady",
            daemon.ingest_url,
            *("--rate", str(rate), "--body-events", str(BODY_EVENTS)),
            *("--warmup-s", str(warmup_s), "--duration-s", str(window_s)),
        )
        with open(daemon.directory / "loadgen.log", "wb") as log:
            gen = subprocess.Popen(
                pinned(command, SERVER_CORE), stdout=subprocess.PIPE, stderr=log, env=child_env()
            )
        try:
            first, last, load = _sample_window(ctx.emulator, daemon, gen, warmup_s, window_s)
        finally:
            stop_process(gen, 10)
        assert daemon.proc is not None
        # Nothing accepted may be lost: the whole backlog drains after the window.
        total = int(load["accepted"])
        ctx.emulator.wait_for(total, 60 + total / 5000, daemon.proc, daemon.dead_letters)
    return _figures(rate, call_rate, first, last, load) | {"events": total}


def _sample_window(
    emulator: Emulator,
    daemon: Daemon,
    gen: subprocess.Popen[bytes],
    warmup_s: float,
    window_s: float,
) -> tuple[Sample, Sample, dict[str, Any]]:
    assert gen.stdout is not None
    line = gen.stdout.readline()
    if not line:
        raise BenchError("the load generator exited before its schedule started")
    started_at = float(orjson.loads(line)["started_at"])
    core = CLIENT_CORE if can_pin() else None  # asked before this process leaves that core
    with _on_server_core():
        first = _sample_at(emulator, daemon, started_at + warmup_s, core)
        last = _sample_at(emulator, daemon, started_at + warmup_s + window_s, core)
    output = gen.stdout.read()
    finished = wait_with_rusage(gen)
    if finished.returncode != 0:
        raise BenchError(f"the load generator exited {finished.returncode}")
    load: dict[str, Any] = orjson.loads(output.strip().splitlines()[-1])
    return first, last, load


def _sample_at(emulator: Emulator, daemon: Daemon, edge: float, core: int | None) -> Sample:
    """Wait for the edge, then read the CPU counters at once and the rest right after."""
    time.sleep(max(0.0, edge - time.time()))
    wall, daemon_cpu = time.time(), proc_cpu_s(daemon.pid)
    emulator_cpu = proc_cpu_s(emulator.pid)
    core_busy = None if core is None else core_busy_s(core)
    stats = emulator.stats()
    entries = int(stats["entries_accepted"])
    return Sample(
        wall=wall,
        daemon_cpu_s=daemon_cpu,
        emulator_cpu_s=emulator_cpu,
        core_busy_s=core_busy,
        delivered=_delivered_before(emulator, entries, edge),
        entries=entries,
        calls_ok=int(stats["calls"]["ok"]),
        backlog=_backlog(daemon),
    )


def _delivered_before(emulator: Emulator, end: int, edge: float) -> int:
    """How many of the first `end` delivered events the emulator received before `edge`.

    Events are recorded in arrival order, so the boundary is found in the last page before
    `end`, widened until its first event is older than the edge.
    """
    size = EDGE_PAGE
    while end > 0:
        since = max(0, end - size)
        page = emulator.page(since, end - since)["events"]
        if since == 0 or (page and page[0]["received_at"] < edge):
            return since + sum(1 for record in page if record["received_at"] < edge)
        if size >= MAX_PAGE:
            raise BenchError(f"sampled over {MAX_PAGE:,} events after the window's edge")
        size = min(size * 4, MAX_PAGE)
    return 0


def _backlog(daemon: Daemon) -> int | None:
    """Events the daemon's input holds and has not settled, over every tenant."""
    status, body = http_json(f"{daemon.admin_url}/v1/tenants", timeout=10)
    if status != 200:
        return None
    return sum(int(row["backlog_events"]) for row in body["tenants"])


def _figures(
    rate: float, call_rate: float, first: Sample, last: Sample, load: dict[str, Any]
) -> Result:
    wall = last.wall - first.wall
    start, end = load["window"]
    window = end - start
    offered = load["offered_in_window"] / window
    delivered = (last.delivered - first.delivered) / window
    cpu_s = last.daemon_cpu_s - first.daemon_cpu_s
    cpu_share = cpu_s / wall
    backlog_growth = None
    if first.backlog is not None and last.backlog is not None:
        backlog_growth = (last.backlog - first.backlog) / window
    calls = last.calls_ok - first.calls_ok
    result: Result = {
        "rate": rate,
        "rate_limit_rps": call_rate,
        "body_events": BODY_EVENTS,
        "window_s": round(window, 3),
        "offered_events_per_s": offered,
        "accepted_events_per_s": load["accepted_in_window"] / window,
        "delivered_events_per_s": delivered,
        "events_per_s": delivered,
        "carried_share": delivered / offered if offered else 0.0,
        "cpu_s": cpu_s,
        "measured_s": wall,
        "cpu_share": round(cpu_share, 3),
        # Per delivered event: the cost per event only while ingest and delivery keep pace.
        "cpu_ms_per_1k": cpu_s * 1e6 / (delivered * window) if delivered else None,
        "backlog_start_events": first.backlog,
        "backlog_end_events": last.backlog,
        "backlog_growth_events_per_s": backlog_growth,
        "entries_per_call": (last.entries - first.entries) / calls if calls else None,
        "ingest_p50_ms": load["ingest_p50_ms"],
        "ingest_p99_ms": load["ingest_p99_ms"],
        "ingest_max_ms": load["ingest_max_ms"],
        "emulator_busy": round((last.emulator_cpu_s - first.emulator_cpu_s) / wall, 3),
        "loadgen_busy": round(load["cpu_share"], 3),
        "max_schedule_lag_ms": load["max_schedule_lag_ms"],
        "retries_503": load["retries_503"],
    }
    if first.core_busy_s is not None and last.core_busy_s is not None:
        other = (last.core_busy_s - first.core_busy_s - cpu_s) / wall
        result["daemon_core_other_busy"] = round(max(0.0, other), 3)
    result["carried"] = carried(result)
    return result


def carried(figures: Result) -> bool:
    """Delivered >= 98% of offered, the backlog not growing faster than 2% of it, CPU to spare."""
    offered = figures["offered_events_per_s"]
    growth = figures.get("backlog_growth_events_per_s")
    return bool(
        figures["carried_share"] >= CARRIED_SHARE
        and growth is not None
        and growth <= (1 - CARRIED_SHARE) * offered
        and figures["cpu_share"] < MAX_CPU_SHARE
    )
