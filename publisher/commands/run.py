"""`partner-publisher run`: the long-running daemon."""

from __future__ import annotations

import argparse
import sys

import structlog

from publisher.commands import common
from publisher.commands.event_loop import run_on_loop
from publisher.errors import ConfigError, StartRefused
from publisher.inputs.spool.mark import ACCEPT_FLAG
from publisher.settings import Settings


def register(subparsers: common.Subparsers) -> None:
    parser = common.add_command(
        subparsers,
        "run",
        run,
        help="run the daemon: ingest, publish, serve /metrics /healthz /readyz",
        description=(
            "Run until SIGTERM or SIGINT, then drain for up to publish.shutdown_grace_s and exit "
            "0; a second signal exits at once. Exit 2 on bad config or a refused start (a "
            "damaged spool, an unwritable dead-letter store), 1 if a part of the daemon dies."
        ),
    )
    parser.add_argument(
        ACCEPT_FLAG,
        action="store_true",
        help="start although the spool file lost events that were pending (replaced, truncated)",
    )


def run(args: argparse.Namespace) -> int:
    settings = common.settings_or_exit(args)
    common.warn_unknown_regions(settings)
    try:
        run_on_loop(_main(settings, args.accept_empty_spool), settings.event_loop)
    except ConfigError as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    except StartRefused as exc:
        structlog.get_logger(__name__).error("start_refused", error=str(exc))
        print(f"partner-publisher: not starting: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    return common.EXIT_OK


async def _main(settings: Settings, accept_empty_spool: bool) -> None:
    # Imported here so that other commands start without loading the servers.
    from publisher.daemon import DaemonState, serve, stop_on_signals

    state = DaemonState()
    with stop_on_signals(state):
        await serve(settings, state, accept_empty_spool=accept_empty_spool)
