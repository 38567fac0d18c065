"""The `partner-publisher` command line: parses arguments and hands over to a command module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from functools import partial

from publisher import __version__, gc_policy
from publisher.aws import aiohttp_trust
from publisher.import_hooks import (
    forward_refs_compiled_when_evaluated,
    hidden_modules,
    patterns_compiled_at_first_use,
    run_first_import_within,
)

# Libraries that compile regular expressions at import which a run seldom uses (yaml's
# pure-Python reader and scanner, urllib3's URL parser, idna's label rules, Fraction's parser);
# each only calls methods of its module-level patterns.
LAZY_PATTERN_PACKAGES = ("fractions", "idna", "urllib3", "yaml")

# Each module exposes register(subparsers); the order is the order of `--help`.
COMMAND_MODULES = {
    "run": "publisher.commands.run",
    "send": "publisher.commands.send",
    "enqueue": "publisher.commands.enqueue",
    "emulator": "publisher.commands.emulator",
    "sources": "publisher.commands.sources",
    "dlq": "publisher.commands.dlq",
    "trace": "publisher.commands.trace",
    "config": "publisher.commands.config",
    "spool": "publisher.commands.spool",
    "connect": "publisher.commands.connect",
    "outbox": "publisher.commands.outbox",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: with only its command's module when it names one.

    Command modules import what their command runs (aiobotocore, aiohttp's server, the
    emulator); importing only the one asked for keeps start-up, a fixed cost of every run,
    to what that command needs. Without a command (--help, a typo) all are registered.
    """
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
    for module in _modules_for(sys.argv[1:] if argv is None else argv):
        importlib.import_module(module).register(subparsers)
    return parser


def _modules_for(argv: Sequence[str]) -> list[str]:
    # Top-level options take no value that is a command's name, so the first one is it.
    named = next((arg for arg in argv if arg in COMMAND_MODULES), None)
    return [COMMAND_MODULES[named]] if named else list(COMMAND_MODULES.values())


def prepare_imports() -> None:
    """Before any command's imports: skip the import-time work no command uses.

    structlog imports rich, when installed, to render console tracebacks; our logs render
    their own (observe.logs), and loading rich costs more than structlog itself. pydantic's
    core schema declares hundreds of typed-dict fields whose annotations are never evaluated.
    Some libraries compile regular expressions at import that a run seldom matches against.
    pydantic looks for plugins among every installed package's entry points when the first
    model is built (2.4% of a one-event `send`); our settings need none, so the search is off
    unless PYDANTIC_DISABLE_PLUGINS is set already (set it empty to let plugins load).
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    aiohttp_trust.install()
    run_first_import_within("structlog", lambda: hidden_modules("rich"))
    for module in ("pydantic_core", "pydantic.main"):
        run_first_import_within(module, forward_refs_compiled_when_evaluated)
    for package in LAZY_PATTERN_PACKAGES:
        run_first_import_within(package, partial(patterns_compiled_at_first_use, package))


def main(argv: Sequence[str] | None = None) -> int:
    gc_policy.set_thresholds()
    gc_policy.pause_until_frozen()
    try:
        return _run(argv)
    finally:
        gc_policy.resume()  # also after a command that stopped before its freeze


def _run(argv: Sequence[str] | None) -> int:
    prepare_imports()
    from publisher.observe.logs import configure_logging  # structlog: after prepare_imports

    args = build_parser(argv).parse_args(argv)
    if not getattr(args, "freezes_start_up", False):
        gc_policy.resume()
    configure_logging(args.log_level, json_output=args.log_format == "json")
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        import structlog

        structlog.get_logger(__name__).exception("command_failed", command=args.command)
        print(f"partner-publisher: {args.command} failed: {exc}", file=sys.stderr)
        return 1
    return code
