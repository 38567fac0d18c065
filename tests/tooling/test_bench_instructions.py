"""The instruction counts the benchmark reads from valgrind: real runs of small programs."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import pytest

from bench.instructions import CALLGRIND, collected, marginal_per_event
from bench.procs import BenchError

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")


def _count(program: str) -> int:
    done = subprocess.run(
        [*CALLGRIND, sys.executable, "-S", "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return collected(done.stderr)


@needs_valgrind
def test_more_work_counts_more_instructions_and_the_same_work_the_same() -> None:
    idle = _count("pass")
    busy = _count("sum(range(300_000))")
    assert idle > 1_000_000
    assert busy > idle + 3_000_000  # ~10+ instructions per iteration of the loop
    assert abs(_count("pass") - idle) / idle < 0.01  # repeatable, unlike CPU seconds


def test_a_log_without_the_total_is_an_error_not_zero() -> None:
    with pytest.raises(BenchError, match="no instruction count"):
        collected("==1== Callgrind, a call-graph generating cache profiler\n")


def _count_stopped(program: str) -> int:
    """The total of a program that runs until SIGTERM, stopped once it says it is ready."""
    proc = subprocess.Popen(
        [*CALLGRIND, sys.executable, "-S", "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return collected(stderr)


_SERVE_UNTIL_SIGTERM = """
import signal
# Waited for synchronously: under valgrind a handler's wake-up from a sleep can be missed.
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGTERM}})
sum(range({n}))
print("ready", flush=True)
signal.sigwait({{signal.SIGTERM}})
"""


@needs_valgrind
def test_a_server_stopped_by_sigterm_reports_its_marginal_cost_without_start_up() -> None:
    # The daemon scenario's method: whole-process totals of N and 2N units of work, from start
    # to a clean exit on SIGTERM; the difference over N is the cost of one unit.
    n = 200_000
    counts = [_count_stopped(_SERVE_UNTIL_SIGTERM.format(n=k * n)) for k in (1, 2, 4)]
    first = marginal_per_event(counts[0], counts[1], n)
    second = marginal_per_event(counts[1], counts[2], 2 * n)
    assert counts[0] > 1_000_000  # start-up is counted in each total...
    assert first >= 10  # ...and cancels out of the difference
    assert abs(first - second) / second < 0.05
    assert counts[0] / n > 2 * first  # the whole-process average would overstate it
