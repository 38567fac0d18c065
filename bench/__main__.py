"""`python -m bench`: run the scenarios pinned to two cores and record the results."""

from __future__ import annotations

import argparse
import compileall
import shlex
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import report, summary
from bench.context import QUOTA_RATE, Context, Result
from bench.cpu import can_pin, machine_busy_share
from bench.procs import BenchError, Emulator
from bench.scenarios import DEFAULT, SCENARIOS

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUICK_EVENTS = 5000
BUSY_WARNING = 0.10
METHOD = [
    "- The emulator (`partner-publisher emulator`) runs alone on core 0 (`taskset -c 0`) and "
    "is reset before every run; the process under test runs on core 1 (`taskset -c 1`).",
    "- `sdk_loop`, `aiohttp_unsigned`, `send`: CPU is the whole child process (os.wait4 "
    "rusage, interpreter start-up included); events/s is timed inside the process, from the "
    "first call (send: from start-up of the engine) to the last result.",
    "- `daemon_ingest`, `latency_5k`: the daemon (`partner-publisher run`, reference config, "
    "spool input) on core 1; CPU is its /proc/<pid>/stat utime+stime delta over the run. The "
    "load generator runs on core 0 beside the emulator so that the daemon has core 1 to "
    "itself, as `send` has. daemon_ingest events/s = N / (first POST to the emulator's "
    "`received_at` of the last event); bodies of 500 events, 4 POSTs in flight, 503 retried.",
    "- `latency_5k`: 50 events every 10 ms, each carrying its send wall time; latency = the "
    "emulator's `received_at` - that time (same clock, same machine).",
    "- `daemon_redis`: redis-server on core 0; the harness, moved to core 0, fills the stream "
    "with pipelined XADDs while the daemon consumes; events/s = N / (first XADD to the last "
    "event's `received_at`).",
    "- `daemon_postgres`, `daemon_amqp` (on demand): the local PostgreSQL / RabbitMQ (system "
    "services: every thread of their processes is moved to core 0 for the run and back after, "
    "as redis-server runs there); the harness, moved to core 0, writes the events (multi-row "
    "INSERTs of 1,000 / publishes with confirms, 1,000 awaited at once) twice: first while "
    "the daemon is stopped (SIGSTOP), then resumed to drain that backlog at its own pace "
    "(events/s = N / (resume to the last event's `received_at`); the figures the targets "
    "compare), then while it drains (`live_*`: events/s = N / (first write to the last "
    "event's `received_at`), the producer's pace on this machine). "
    "`outbox_latency`: 100 one-event transactions per second; latency = `received_at` - "
    "the wall time just before COMMIT.",
    "- `spool_backlog_rss` (on demand): the daemon points at a closed port, 1,000,000 events "
    "are ingested and stay in the spool; peak RSS is VmHWM from /proc/<pid>/status. `soak` "
    "(on demand): RSS every 10 s at 2,000 events/s.",
    "- `send_1`: `send` of a one-event file, the whole process's CPU (almost all start-up), "
    "five processes one after another per round, their median. The package's bytecode is "
    "compiled before the runs, as an installed package has it.",
    "- `daemon_ingest_20`: as `daemon_ingest` with bodies of 20 events. `daemon_cpu_advantage` "
    "compares the daemon's CPU per event with the SDK loop's, start-up excluded on both sides. "
    "Events are about 500 bytes as NDJSON lines.",
    "- `daemon_quota` (on demand): the daemon (reference config, spool input, its call rate "
    "limit at the default 1,400/s) on core 1; the load generator on core 0 offers "
    "`--quota-rate` events/s (default 28,000, the default account quota) in 1,000-event "
    "bodies, open loop, for 2 s of warm-up and a 10 s window (1 s and 3 s with --quick). At "
    "the window's edges the harness, on core 0, reads the daemon's utime+stime, its backlog "
    "(`GET /v1/tenants`) and which events the emulator had received (`received_at`). "
    "Offered = events due in the window; delivered = events received in it; CPU share = the "
    "daemon's CPU-seconds / wall; ingest p99 = POST to 202 of the window's bodies. It "
    "carries the quota when delivered >= 98% of offered, the backlog grows by less than 2% "
    "of the offered rate and the daemon's core is under 95% busy. After the window every "
    "accepted event must reach the emulator.",
    "- `sdk_loop_instructions`, `send_instructions` (on demand): the same two commands under "
    "valgrind's callgrind, which counts the user-space instructions of the whole process "
    "(start-up included). Unlike CPU seconds they repeat within about 0.1% on a busy machine; "
    "they leave out system calls and memory stalls. `daemon_instructions` (on demand): the "
    "daemon under callgrind, fed 2,000 and then 4,000 events through ingest (bodies of 500) "
    "and stopped by SIGTERM; the difference over 2,000 is its marginal cost per event, "
    "start-up and shutdown excluded.",
    "- Figures from a machine that is busy with other work are lower and more scattered; the "
    "busy share before the run is recorded above.",
    "- Ratios compare medians of pairs run alternately (A, B, A, B) in this invocation.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, help="events per run (default 100000)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_EVENTS} events")
    parser.add_argument(
        "--only",
        help="comma-separated scenarios; on demand: "
        + ", ".join(name for name in SCENARIOS if name not in DEFAULT)
        + ". All: "
        + ", ".join(SCENARIOS),
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds per scenario (median)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--soak-s", type=float, default=600, help="soak duration in seconds")
    parser.add_argument(
        "--quota-rate",
        type=float,
        default=QUOTA_RATE,
        help=f"events/s daemon_quota offers (default {QUOTA_RATE:,}, AWS's default quota)",
    )
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else 100_000
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else DEFAULT
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if args.rounds < 1 or args.events < 100:
        parser.error("--rounds must be >= 1 and --events >= 100")
    if args.quota_rate <= 0:
        parser.error("--quota-rate must be > 0")
    args.names = names
    return args


def run_one(name: str, ctx: Context) -> Result:
    started = time.perf_counter()
    try:
        result = SCENARIOS[name].run(ctx)
    except (BenchError, OSError, KeyError, ValueError, RuntimeError) as exc:
        if not isinstance(exc, BenchError):
            traceback.print_exc(file=sys.stderr)
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["wall_s"] = round(time.perf_counter() - started, 2)
    _progress(name, result)
    return result


def _progress(name: str, result: Result) -> None:
    if "error" in result:
        text = f"FAILED {result['error'][:300]}"
    elif result.get("available") is False:
        text = f"not available ({result['reason']})"
    else:
        parts = [f"{result['events_per_s']:,.0f} events/s"] if "events_per_s" in result else []
        if "offered_events_per_s" in result:
            parts.insert(0, f"offered {result['offered_events_per_s']:,.0f} events/s")
            parts.append(f"daemon core {result['cpu_share']:.0%} busy")
        if "cpu_ms_per_1k" in result:
            parts.append(f"{result['cpu_ms_per_1k']:,.1f} CPU-ms/1k")
        elif "cpu_s" in result:
            parts.append(f"{result['cpu_s']:.3f} CPU-s")
        if "p99_ms" in result:
            parts.append(f"p50 {result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms")
        if "instructions_per_event" in result:
            parts.append(f"{result['instructions_per_event']:,} instructions/event")
        if "peak_rss_kib" in result:
            parts.append(f"peak RSS {result['peak_rss_kib'] / 1024:,.0f} MiB")
        text = ", ".join(parts)
    print(f"bench: {name}: {text} [{result['wall_s']} s]", file=sys.stderr, flush=True)


def run_rounds(args: argparse.Namespace, ctx: Context) -> dict[str, list[Result]]:
    """Every selected scenario once per round, in the same order, so pairs alternate."""
    by_round: dict[str, list[Result]] = {name: [] for name in args.names}
    for round_no in range(1, args.rounds + 1):
        for name in args.names:
            repeatable = SCENARIOS[name].default
            if round_no > 1 and (not repeatable or _unavailable(by_round[name])):
                continue
            print(f"bench: round {round_no}/{args.rounds}: {name} ...", file=sys.stderr)
            by_round[name].append(run_one(name, ctx))
    return by_round


def _unavailable(results: list[Result]) -> bool:
    return any(r.get("available") is False for r in results)


def build_report(args: argparse.Namespace, by_round: dict[str, list[Result]]) -> dict[str, Any]:
    figures = {name: summary.median_of_rounds(runs) for name, runs in by_round.items()}
    return {
        "date": time.strftime("%Y-%m-%d"),
        "started_at": args.started_at,
        "command": ("python -m bench " + shlex.join(sys.argv[1:])).strip(),
        "machine": report.machine(),
        "machine_busy_before": args.busy_before,
        "events": args.events,
        "rounds": args.rounds,
        "pinning": "emulator on core 0, process under test on core 1"
        if can_pin()
        else "NOT pinned (taskset or a second core missing)",
        "descriptions": {name: SCENARIOS[name].what for name in by_round},
        "scenarios": figures,
        "ratios": summary.ratios(figures, by_round),
        "runs": by_round,
        "method": METHOD,
    }


def _compile_package() -> None:
    """Write the package's bytecode first, as an installed package has it (pip compiles at
    install): with PYTHONDONTWRITEBYTECODE set, a source checkout would otherwise compile
    every module of ours on every start, which users do not pay (about 12% of `send_1`)."""
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "publisher", quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every started process is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.busy_before = round(machine_busy_share(2.0), 3)
    if args.busy_before > BUSY_WARNING:
        print(
            f"bench: warning: the machine is already {args.busy_before:.0%} busy; "
            "other work will lower and scatter the figures",
            file=sys.stderr,
        )
    _compile_package()
    with tempfile.TemporaryDirectory(prefix="partner-publisher-bench-") as tmp:
        workdir = Path(tmp)
        with Emulator(workdir) as emulator:
            ctx = Context(
                emulator,
                workdir,
                args.events,
                args.quick,
                soak_s=args.soak_s,
                quota_rate=args.quota_rate,
            )
            by_round = run_rounds(args, ctx)
    data = build_report(args, by_round)
    for path in report.write_all(data, args.results_dir, data["date"]):
        print(f"bench: wrote {path}", file=sys.stderr)
    for name, ratio in data["ratios"].items():
        target = "information" if ratio["target"] is None else f"target >= {ratio['target']}"
        print(f"bench: {name} = {ratio['value']} ({target}, met: {ratio['met']})")
    failed = [n for n, f in data["scenarios"].items() if "error" in f]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
