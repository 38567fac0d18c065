"""Every Input the behaviour suite runs against: add a backend with one entry in INPUT_FACTORIES."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from publisher.inputs.base import Input
from publisher.inputs.memory import MemoryInput
from publisher.inputs.spool import SpoolInput
from publisher.settings import SpoolInputSettings


@dataclass(frozen=True)
class InputOptions:
    """What a test asks of the input; a factory may round visibility_timeout_s up."""

    tmp_path: Path
    visibility_timeout_s: float = 0.5
    max_events: int | None = None


@dataclass(frozen=True)
class OpenedInput:
    input: Input
    visibility_timeout_s: float
    """The timeout the input really uses, so tests wait long enough."""


InputFactory = Callable[[InputOptions], AbstractAsyncContextManager[OpenedInput]]


@asynccontextmanager
async def memory_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    memory = MemoryInput(options.visibility_timeout_s, max_events=options.max_events)
    await memory.start()
    try:
        yield OpenedInput(memory, options.visibility_timeout_s)
    finally:
        await memory.close()


@asynccontextmanager
async def spool_input(options: InputOptions) -> AsyncIterator[OpenedInput]:
    settings = SpoolInputSettings(
        path=options.tmp_path / "spool" / "spool.db",
        visibility_timeout_s=options.visibility_timeout_s,
        max_events=options.max_events or 1_000_000,
    )
    spool = SpoolInput(settings)
    await spool.start()
    try:
        yield OpenedInput(spool, options.visibility_timeout_s)
    finally:
        await spool.close()


INPUT_FACTORIES: dict[str, InputFactory] = {
    "memory": memory_input,
    "spool": spool_input,
}
