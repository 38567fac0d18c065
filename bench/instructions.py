"""On demand: the instructions a process under test executes, counted by valgrind's callgrind.

CPU seconds on a shared machine scatter by +-20% from run to run. The user-space instructions
of the same program on the same input repeat within about 0.1% whatever else the machine
does, so they show whether a change to the cost per event is real. They leave out the
kernel's share (system calls) and memory stalls, so they back the CPU ratio up; they do not
replace it. Under valgrind a process runs 30 to 60 times slower: one run per invocation, and
no events/s (the timing is valgrind's, not ours).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from bench.commands import client_command, loadgen_command, send_command
from bench.context import Context, Result, check_delivered
from bench.cpu import CLIENT_CORE, SERVER_CORE
from bench.procs import BenchError, Daemon, write_config
from bench.runner import run_child

# The profile itself is not kept: only the total that valgrind prints to stderr is read.
CALLGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
_COLLECTED = re.compile(r"Collected : (\d+)")


def unavailable_reason() -> str | None:
    return None if shutil.which("valgrind") else "valgrind is not installed"


def sdk_loop(ctx: Context) -> Result:
    """The plain aiobotocore loop (sdk_loop's command) under callgrind."""
    return _counted(ctx, client_command(ctx, "sdk"), ctx.scratch("sdk_loop_instructions"))


# Under callgrind a process runs 30 to 60 times slower, so the ledger's time-based flush
# (every 0.5 s) would write batches that much smaller than at full speed. The pair flushes
# by size (FLUSH_AT rows) instead, the batch size of a daemon at several thousand events/s.
VALGRIND_LEDGER = {"flush_interval_s": 30}


def send(ctx: Context) -> Result:
    """`partner-publisher send` (the send scenario's command) under callgrind."""
    directory = ctx.scratch("send_instructions")
    command, _ = send_command(ctx, directory, ledger=VALGRIND_LEDGER)
    return _counted(ctx, command, directory)


def send_without_ledger(ctx: Context) -> Result:
    """send_instructions with the ledger off: the ledger's instructions per event."""
    directory = ctx.scratch("send_instructions_no_ledger")
    command, _ = send_command(ctx, directory, ledger={**VALGRIND_LEDGER, "retention_s": 0})
    return _counted(ctx, command, directory)


# The daemon is counted over DAEMON_EVENTS and twice as many events ingested: the difference
# is what the second half cost, start-up and shutdown cancelling out. Bodies of 500 events,
# as in daemon_ingest.
DAEMON_EVENTS = 2000
DAEMON_BODY_EVENTS = 500
# Under valgrind the daemon starts in a minute or two and drains its last calls slowly.
_DAEMON_START_S = 600
_DAEMON_STOP_S = 600


def daemon(ctx: Context) -> Result:
    """`partner-publisher run` under callgrind, fed through HTTP ingest: instructions per event
    ingested, stored in the spool and published, start-up excluded."""
    reason = unavailable_reason()
    if reason is not None:
        return {"available": False, "reason": reason}
    small = _daemon_counted(ctx, DAEMON_EVENTS)
    large = _daemon_counted(ctx, 2 * DAEMON_EVENTS)
    return {
        "events": DAEMON_EVENTS,
        "instructions": large - small,
        "instructions_per_event": marginal_per_event(small, large, DAEMON_EVENTS),
        "instructions_first_run": small,
        "instructions_second_run": large,
    }


def marginal_per_event(first: int, second: int, more_events: int) -> int:
    """Instructions per event of the second run's `more_events` extra events: what both runs
    share (start-up, shutdown) cancels out."""
    return round((second - first) / more_events)


def _daemon_counted(ctx: Context, count: int) -> int:
    """The whole daemon's instructions from start to a clean exit on SIGTERM, `count` events
    having been ingested and delivered in between."""
    ctx.emulator.reset()
    directory = ctx.scratch(f"daemon_instructions_{count}")
    config_path, config = write_config(directory, ctx.emulator.url, ledger=VALGRIND_LEDGER)
    flood = ["--events", str(count), "--body-events", str(DAEMON_BODY_EVENTS)]
    timeout_s = max(600, count / 5)
    with Daemon(
        directory,
        config_path,
        config,
        wrapper=CALLGRIND,
        start_timeout_s=_DAEMON_START_S,
        stop_grace_s=_DAEMON_STOP_S,
    ) as running:
        assert running.proc is not None
        command = loadgen_command("flood", running.ingest_url, *flood)
        run_child(command, SERVER_CORE, directory / "loadgen.log", timeout_s)
        ctx.emulator.wait_for(count, timeout_s, running.proc, running.dead_letters)
        # callgrind writes its total only when the process exits by itself.
        code = running.stop()
    if code != 0:
        raise BenchError(f"the daemon exited {code} on SIGTERM: {running.log_tail()}")
    check_delivered(ctx, count)
    return collected(running.log_path.read_text(errors="replace"))


def _counted(ctx: Context, command: Sequence[str], directory: Path) -> Result:
    reason = unavailable_reason()
    if reason is not None:
        return {"available": False, "reason": reason}
    ctx.emulator.reset()
    log_path = directory / "callgrind.log"
    run_child([*CALLGRIND, *command], CLIENT_CORE, log_path, max(900, ctx.events / 50), directory)
    check_delivered(ctx, ctx.events)
    instructions = collected(log_path.read_text(errors="replace"))
    return {
        "events": ctx.events,
        "instructions": instructions,
        "instructions_per_event": round(instructions / ctx.events),
    }


def collected(valgrind_log: str) -> int:
    """The total that callgrind reports ("Collected : N") for the whole process."""
    match = _COLLECTED.search(valgrind_log)
    if match is None:
        raise BenchError(f"no instruction count in valgrind's output: {valgrind_log[-300:]!r}")
    return int(match.group(1))
