"""What scenarios share: the run context, result helpers, emulator CPU accounting."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import events
from bench.procs import BenchError, Emulator

Result = dict[str, Any]
# Events/s offered by daemon_quota: AWS's default PutPartnerEvents quota, 1,400 calls of 20.
QUOTA_RATE = 28_000


@dataclass
class Context:
    """What every scenario shares during one invocation."""

    emulator: Emulator
    workdir: Path
    events: int
    quick: bool
    soak_s: float = 600
    quota_rate: float = QUOTA_RATE
    _counter: Iterator[int] = field(default_factory=itertools.count)
    _ndjson: Path | None = None

    def scratch(self, name: str) -> Path:
        """A fresh directory for one run (spool, config, logs)."""
        path = self.workdir / f"{name}-{next(self._counter)}"
        path.mkdir(parents=True)
        return path

    def ndjson_file(self) -> Path:
        """The input file of `send`, generated once per invocation."""
        if self._ndjson is None:
            self._ndjson = self.workdir / "events.ndjson"
            events.write_ndjson(str(self._ndjson), self.events)
        return self._ndjson


def per_1k_ms(cpu_s: float, count: int) -> float:
    return cpu_s * 1000 / count * 1000 if count else 0.0


@contextmanager
def emulator_busy(ctx: Context, result: Result, reset: bool = True) -> Iterator[None]:
    """Reset the emulator, then record its CPU share of the block's wall time in `result`."""
    if reset:
        ctx.emulator.reset()
    meter = ctx.emulator.cpu_meter()
    meter.start()
    started = time.perf_counter()
    yield
    wall = time.perf_counter() - started
    result["emulator_busy"] = round(meter.stop() / wall, 3) if wall > 0 else 0.0


def check_delivered(ctx: Context, expected: int) -> None:
    got = ctx.emulator.accepted()
    if got != expected:
        raise BenchError(f"the emulator accepted {got} events, expected {expected}")
