"""Core pinning (taskset) and CPU/RSS accounting of benchmark processes.

The emulator (the stand-in for AWS) runs on core 0, the process under test on core 1, so
one cannot steal cycles from the other. CPU time is read two ways: `os.wait4` rusage for
children that run to completion, `/proc/<pid>/stat` utime+stime deltas for long-running ones.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVER_CORE = 0
CLIENT_CORE = 1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def can_pin() -> bool:
    """Pinning needs taskset and two cores this process may use."""
    return shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2


@contextlib.contextmanager
def system_server_on_server_core(process_name: str) -> Iterator[int]:
    """Move every thread of the running processes called `process_name` (a system service such
    as RabbitMQ's beam.smp, or PostgreSQL's postgres) to core 0 for a while, as the emulator
    and redis-server are, so that it cannot take the daemon's core; their affinity is restored
    after. Processes the server forks meanwhile (PostgreSQL's backends) inherit core 0 and end
    with their connections. Yields how many threads moved (0 when pinning is not possible)."""
    saved: dict[int, set[int]] = {}
    if can_pin():
        for process in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                # By the process's name: a server names its threads itself (Erlang's schedulers).
                if (process / "comm").read_text().strip() != process_name:
                    continue
                for task in (process / "task").iterdir():
                    with contextlib.suppress(OSError):  # a thread that ended meanwhile
                        tid = int(task.name)
                        cores = os.sched_getaffinity(tid)
                        os.sched_setaffinity(tid, {SERVER_CORE})
                        saved[tid] = cores
    try:
        yield len(saved)
    finally:
        for tid, cores in saved.items():
            with contextlib.suppress(OSError):  # a thread or process that has ended since
                os.sched_setaffinity(tid, cores)


def pinned(command: Sequence[str], core: int | None) -> list[str]:
    """`command` prefixed with `taskset -c core` (taskset execs, so the pid stays the same)."""
    if core is None or not can_pin():
        return list(command)
    return ["taskset", "-c", str(core), *command]


@dataclass(frozen=True, slots=True)
class Finished:
    """A child that ran to completion: exit status, CPU seconds (user+sys), peak RSS."""

    returncode: int
    cpu_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int


def wait_with_rusage(proc: subprocess.Popen[bytes]) -> Finished:
    """Reap the child with wait4 to get its own rusage (Popen.wait would discard it)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        returncode=proc.returncode,
        cpu_s=usage.ru_utime + usage.ru_stime,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
    )


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a running process, in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        stat = handle.read()
    # The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def proc_status_kib(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status, e.g. VmHWM (peak RSS) or VmRSS."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


class CpuMeter:
    """CPU seconds a running process spends between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._start = 0.0
        self.cpu_s = 0.0

    def start(self) -> None:
        self._start = proc_cpu_s(self.pid)

    def stop(self) -> float:
        self.cpu_s = proc_cpu_s(self.pid) - self._start
        return self.cpu_s


def core_busy_s(core: int) -> float:
    """Seconds one CPU has been busy since boot, whoever ran on it (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(f"cpu{core} "):
                # user nice system idle iowait irq softirq steal; guest time is in user already.
                values = [int(v) for v in line.split()[1:9]]
                return (sum(values) - values[3] - values[4]) / _CLOCK_TICKS
    raise KeyError(f"cpu{core} not in /proc/stat")


def machine_busy_share(seconds: float = 1.0) -> float:
    """The share of all CPUs' time spent busy over `seconds` (other work disturbs the figures)."""

    def snapshot() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    busy0, total0 = snapshot()
    time.sleep(seconds)
    busy1, total1 = snapshot()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
