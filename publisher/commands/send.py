"""`partner-publisher send FILE|-`: publish NDJSON events through the whole engine, then exit."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from publisher.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_config_option,
    settings_or_exit,
)
from publisher.commands.ndjson import add_ndjson_arguments, open_lines
from publisher.engine.assemble import open_pipeline
from publisher.errors import ConfigError, StartRefused
from publisher.inputs.lines import LineFeed
from publisher.observe.metrics import Metrics
from publisher.settings import Settings

if TYPE_CHECKING:
    from publisher.commands.common import Subparsers

# Lines never expire from a LineFeed; the pipeline's renewals need a period all the same.
LEASE_RENEW_S = 100.0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "send",
        help="publish NDJSON events from a file or stdin and exit when all are settled",
        description=(
            "Publish one event per line through validation, batching, retries and dead letters. "
            "Exit 0 when every event was published, 1 when any was dead-lettered, 2 on bad "
            "usage or config. The last stdout line is a JSON summary."
        ),
    )
    add_ndjson_arguments(parser)
    add_config_option(parser)
    parser.set_defaults(func=run)


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
    settings = settings_or_exit(args)
    try:
        with open_lines(args.file) as handle:
            feed = LineFeed(handle)
            tally = asyncio.run(_send(settings, feed, args.progress_interval_s))
    except FileNotFoundError:
        print(f"partner-publisher: no such file: {args.file}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, StartRefused) as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(orjson.dumps(tally.summary(feed.lines_read, settings)).decode() + "\n")
    return EXIT_OK if tally.dead_lettered == 0 else EXIT_FAILED


async def _send(settings: Settings, feed: LineFeed, progress_interval_s: float) -> _Tally:
    tally = _Tally()
    stop = asyncio.Event()
    async with open_pipeline(
        settings, feed, Metrics(), lease_renew_s=LEASE_RENEW_S, on_settled=tally.on_settled
    ) as pipeline:
        publishing = asyncio.create_task(
            pipeline.run(stop, settings.publish.shutdown_grace_s), name="send-pipeline"
        )
        progress = asyncio.create_task(
            _report_progress(tally, feed, progress_interval_s), name="send-progress"
        )
        all_settled = asyncio.create_task(feed.finished.wait(), name="send-all-settled")
        try:
            await asyncio.wait([all_settled, publishing], return_when="FIRST_COMPLETED")
        finally:
            stop.set()
            progress.cancel()
            all_settled.cancel()
            await publishing
    return tally


async def _report_progress(tally: _Tally, feed: LineFeed, interval_s: float) -> None:
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        elapsed = time.monotonic() - tally.started
        print(
            f"send: {tally.settled}/{feed.lines_read}{'' if feed.ended else '+'} settled "
            f"({tally.published} published, {tally.dead_lettered} dead-lettered), "
            f"{tally.settled / elapsed:,.0f} events/s",
            file=sys.stderr,
            flush=True,
        )
