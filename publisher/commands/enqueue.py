"""`partner-publisher enqueue FILE|-`: put NDJSON lines, as they are, into the configured input."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import IO

import orjson

from publisher.commands import common
from publisher.commands.ndjson import add_ndjson_arguments, open_lines, read_lines
from publisher.core.backoff import Doubling
from publisher.errors import ConfigError, InputFull, InputUnavailable
from publisher.inputs.base import Input
from publisher.inputs.factory import build_input
from publisher.settings import Settings

CHUNK_LINES = 500
RETRY = Doubling(first_s=0.1, max_s=2.0)


def register(subparsers: common.Subparsers) -> None:
    parser = common.add_command(
        subparsers,
        "enqueue",
        run,
        help="put NDJSON events from a file or stdin into the configured input",
        description=(
            "Put one event per line, unchanged, into input.kind (spool, redis, sqs, postgres, "
            "amqp) for a running daemon to publish; blank lines are skipped and nothing is "
            "validated here (the daemon dead-letters what is invalid). While the input is full "
            "or unreachable it keeps trying for --give-up-after-s. Exit 0 when every line was "
            "stored, 1 when it gave up, 2 on bad usage or config. The last stdout line is a "
            "JSON summary."
        ),
    )
    add_ndjson_arguments(parser)
    parser.add_argument(
        "--give-up-after-s",
        type=float,
        default=60.0,
        help="how long one chunk may wait for a full or unreachable input",
    )


@dataclass
class _Progress:
    enqueued: int = 0
    failure: str | None = None
    started: float = field(default_factory=time.monotonic)

    def summary(self, settings: Settings) -> dict[str, object]:
        return {
            "enqueued": self.enqueued,
            "input": settings.input.kind,
            "elapsed_s": round(time.monotonic() - self.started, 3),
            **({"error": self.failure} if self.failure else {}),
        }


def run(args: argparse.Namespace) -> int:
    settings = common.settings_or_exit(args)
    try:
        with open_lines(args.file) as handle:
            progress = asyncio.run(_enqueue(settings, handle, args))
    except FileNotFoundError:
        print(f"partner-publisher: no such file: {args.file}", file=sys.stderr)
        return common.EXIT_USAGE
    except ConfigError as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    sys.stdout.write(orjson.dumps(progress.summary(settings)).decode() + "\n")
    if progress.failure is not None:
        print(f"partner-publisher: enqueue gave up: {progress.failure}", file=sys.stderr)
        return common.EXIT_FAILED
    return common.EXIT_OK


async def _enqueue(settings: Settings, handle: IO[bytes], args: argparse.Namespace) -> _Progress:
    target = build_input(settings.input, consumer=False, aws=settings.aws)
    progress = _Progress()
    reporter = asyncio.create_task(_report(progress, args.progress_interval_s), name="progress")
    await target.start()
    try:
        while True:
            lines = await asyncio.to_thread(read_lines, handle, CHUNK_LINES)
            if not lines:
                break
            failure = await _put_patiently(target, lines, args.give_up_after_s)
            if failure is not None:
                progress.failure = failure
                break
            progress.enqueued += len(lines)
    finally:
        reporter.cancel()
        await target.close()
    return progress


async def _put_patiently(target: Input, lines: list[bytes], give_up_after_s: float) -> str | None:
    """Put one chunk, retrying while the input is full or away; the reason when giving up."""
    deadline = time.monotonic() + give_up_after_s
    delay_s = RETRY.first_s
    while True:
        try:
            await target.put(lines)
            return None
        except (InputFull, InputUnavailable) as exc:
            if time.monotonic() + delay_s > deadline:
                return str(exc)
            await asyncio.sleep(delay_s)
            delay_s = RETRY.after(delay_s)


async def _report(progress: _Progress, interval_s: float) -> None:
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        elapsed = time.monotonic() - progress.started
        print(
            f"enqueue: {progress.enqueued} events stored, {progress.enqueued / elapsed:,.0f}/s",
            file=sys.stderr,
            flush=True,
        )
