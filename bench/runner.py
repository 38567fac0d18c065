"""Running a benchmark child to completion: pinned, timed out, reaped with its rusage."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.cpu import Finished, pinned, wait_with_rusage
from bench.procs import BenchError, child_env


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A finished child: its rusage, wall time and the JSON object on its last stdout line."""

    finished: Finished
    wall_s: float
    summary: dict[str, Any]


def run_child(
    command: Sequence[str],
    core: int | None,
    log_path: Path,
    timeout_s: float,
    cwd: Path | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> ChildRun:
    """Run `command` pinned to `core`; fail with its log tail unless it exits in `ok_codes`."""
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            pinned(command, core), stdout=subprocess.PIPE, stderr=log, env=child_env(), cwd=cwd
        )
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        try:
            assert proc.stdout is not None
            output = proc.stdout.read()
            proc.stdout.close()
            finished = wait_with_rusage(proc)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): leave no pinned child behind.
            proc.kill()
            proc.wait()
            raise
        finally:
            killer.cancel()
        wall_s = time.perf_counter() - started
    if finished.returncode not in ok_codes:
        tail = log_path.read_text(errors="replace")[-1500:]
        raise BenchError(f"{command[2:4]} exited {finished.returncode}: {tail}")
    lines = output.decode(errors="replace").strip().splitlines()
    try:
        summary = orjson.loads(lines[-1]) if lines else {}
    except orjson.JSONDecodeError:
        raise BenchError(f"last stdout line is not JSON: {lines[-1][:200]!r}") from None
    return ChildRun(finished, wall_s, summary)
