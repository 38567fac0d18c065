"""The `partner-publisher` command line: parses arguments and hands over to a command module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import structlog

from publisher import __version__
from publisher.logs import configure_logging

# Each module exposes register(subparsers); the order is the order of `--help`.
COMMAND_MODULES = (
    "publisher.commands.run",
    "publisher.commands.send",
    "publisher.commands.enqueue",
    "publisher.commands.emulator",
    "publisher.commands.sources",
    "publisher.commands.dlq",
    "publisher.commands.config",
    "publisher.commands.connect",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partner-publisher",
        description="Publish SaaS customers' events into Amazon EventBridge partner event sources.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--log-format", default="json", choices=["json", "console"], help="stderr log format"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, json_output=args.log_format == "json")
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        structlog.get_logger(__name__).exception("command_failed", command=args.command)
        print(f"partner-publisher: {args.command} failed: {exc}", file=sys.stderr)
        return 1
    return code
