"""The event loop of the long-running commands (`run`, `send`): uvloop where it is installed.

uvloop (libuv under asyncio's API) does the loop's own work, socket reads and writes, callbacks
and timers, in C: the daemon spends about 4% less CPU per event on it (README, "Benchmarks").
`event_loop: asyncio` keeps the standard library's loop, for a platform without uvloop or to
rule the loop out when chasing a problem.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from publisher.settings.sections import EventLoopKind

T = TypeVar("T")


def run_on_loop(main: Coroutine[Any, Any, T], kind: EventLoopKind) -> T:
    """Run `main` to completion on a new loop of `kind`, as asyncio.run does."""
    with asyncio.Runner(loop_factory=loop_factory(kind)) as runner:
        return runner.run(main)


def loop_factory(kind: EventLoopKind) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default) for `asyncio` or without uvloop."""
    if kind == "asyncio":
        return None
    try:
        import uvloop  # imported only here: other commands never pay for it
    except ImportError:  # not built for this platform (Windows): the standard loop does the job
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
