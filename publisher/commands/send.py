"""`partner-publisher send FILE|-`: publish NDJSON events through the whole engine, then exit."""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from publisher.commands import common
from publisher.commands.event_loop import run_on_loop
from publisher.commands.ndjson import add_ndjson_arguments, open_lines
from publisher.commands.progress import Snapshot, plain_line, terminal_line
from publisher.core.source_states import SourceStates
from publisher.core.tenants import tenants_for
from publisher.engine.assemble import open_pipeline
from publisher.errors import ConfigError, StartRefused
from publisher.gc_policy import freeze_start_up
from publisher.inputs.lines import LineFeed
from publisher.observe.discard import discarded_metrics
from publisher.settings import Settings

TERMINAL_REFRESH_S = 0.25


def register(subparsers: common.Subparsers) -> None:
    parser = common.add_command(
        subparsers,
        "send",
        run,
        help="publish NDJSON events from a file or stdin and exit when all are settled",
        description=(
            "Publish one event per line through validation, batching, retries and dead letters. "
            "Exit 0 when every event was published, 1 when any was dead-lettered, 2 on bad "
            "usage or config. The last stdout line is a JSON summary."
        ),
    )
    add_ndjson_arguments(parser)
    parser.set_defaults(freezes_start_up=True)  # gc_policy.pause_until_frozen: run freezes


@dataclass
class _Tally:
    """Counts settled events as the pipeline reports them."""

    published: int = 0
    dead_lettered: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def settled(self) -> int:
        return self.published + self.dead_lettered

    def on_settled(self, published: int, dead_lettered: int) -> None:
        self.published += published
        self.dead_lettered += dead_lettered

    def summary(self, total: int, settings: Settings) -> dict[str, object]:
        elapsed = time.monotonic() - self.started
        return {
            "published": self.published,
            "dead_lettered": self.dead_lettered,
            "total": total,
            "elapsed_s": round(elapsed, 3),
            "events_per_s": round(self.settled / elapsed, 1) if elapsed > 0 else 0.0,
            "dead_letters_path": str(settings.dead_letter.path),
        }


def run(args: argparse.Namespace) -> int:
    settings = common.settings_or_exit(args)
    common.warn_unknown_regions(settings)
    try:
        with open_lines(args.file) as handle:
            feed = LineFeed(handle)
            size = file_size(handle)
            tally = run_on_loop(
                _send(settings, feed, args.progress_interval_s, size), settings.event_loop
            )
    except FileNotFoundError:
        print(f"partner-publisher: no such file: {args.file}", file=sys.stderr)
        return common.EXIT_USAGE
    except (ConfigError, StartRefused) as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    sys.stdout.write(orjson.dumps(tally.summary(feed.lines_read, settings)).decode() + "\n")
    return common.EXIT_OK if tally.dead_lettered == 0 else common.EXIT_FAILED


def file_size(handle: Any) -> int | None:
    """A regular file's size in bytes; None for a pipe or terminal."""
    try:
        status = os.fstat(handle.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


async def _send(
    settings: Settings, feed: LineFeed, progress_interval_s: float, total_bytes: int | None = None
) -> _Tally:
    tally = _Tally()
    stop = asyncio.Event()
    tenants = tenants_for(settings)
    async with open_pipeline(
        settings, feed, discarded_metrics(), tenants, SourceStates(), on_settled=tally.on_settled
    ) as pipeline:
        freeze_start_up()
        publishing = asyncio.create_task(
            pipeline.run(stop, settings.publish.shutdown_grace_s), name="send-pipeline"
        )
        progress = asyncio.create_task(
            _report_progress(tally, feed, progress_interval_s, total_bytes), name="send-progress"
        )
        all_settled = asyncio.create_task(feed.finished.wait(), name="send-all-settled")
        try:
            await asyncio.wait([all_settled, publishing], return_when="FIRST_COMPLETED")
        finally:
            stop.set()
            progress.cancel()
            all_settled.cancel()
            await publishing
            await asyncio.gather(progress, return_exceptions=True)  # its final redraw
    return tally


def _snapshot(tally: _Tally, feed: LineFeed, total_bytes: int | None) -> Snapshot:
    return Snapshot(
        tally.published, tally.dead_lettered, feed.lines_read, feed.ended,
        time.monotonic() - tally.started, feed.bytes_read, total_bytes,
    )  # fmt: skip


async def _report_progress(
    tally: _Tally, feed: LineFeed, interval_s: float, total_bytes: int | None
) -> None:
    """Plain lines every interval_s; on a terminal, one line redrawn several times a second."""
    if interval_s <= 0:
        return
    terminal = sys.stderr.isatty()
    try:
        while True:
            await asyncio.sleep(min(interval_s, TERMINAL_REFRESH_S) if terminal else interval_s)
            snap = _snapshot(tally, feed, total_bytes)
            if terminal:
                sys.stderr.write("\r\x1b[K" + terminal_line(snap))
            else:
                sys.stderr.write(plain_line(snap) + "\n")
            sys.stderr.flush()
    finally:
        if terminal:  # the final state, then a newline, so the summary starts on its own line
            sys.stderr.write("\r\x1b[K" + terminal_line(_snapshot(tally, feed, total_bytes)))
            sys.stderr.write("\n")
            sys.stderr.flush()
