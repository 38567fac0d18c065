"""The instruction counts the benchmark reads from valgrind: real runs of small programs."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from bench.instructions import CALLGRIND, collected
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
