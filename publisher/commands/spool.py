"""`partner-publisher spool check|salvage`: look at the spool file, copy out what is readable."""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import os
import sys
from pathlib import Path

import orjson

from publisher.commands import common
from publisher.errors import PublisherError
from publisher.settings import SpoolInputSettings


def register(subparsers: common.Subparsers) -> None:
    actions = common.add_actions(subparsers, "spool", "check or salvage the spool file")
    common.add_command(
        actions,
        "check",
        check_command,
        help="report damage and lost events (exit 0 when sound, 1 when not)",
        description="Print one JSON object: path, ok, problems, backlog.",
    )
    common.add_command(
        actions,
        "salvage",
        salvage_command,
        help="copy every readable event into a new spool file; the damaged one is kept",
        description=(
            "Stop the daemon first. Prints one JSON object: salvaged (events copied), "
            "unreadable_ranges (message ids lost to the damage), damaged_copy (the old file)."
        ),
    )


def _spool_path(args: argparse.Namespace) -> Path | None:
    settings = common.settings_or_exit(args)
    if not isinstance(settings.input, SpoolInputSettings):
        print(f"partner-publisher: input.kind is {settings.input.kind}, not spool", file=sys.stderr)
        return None
    return settings.input.path


def check_command(args: argparse.Namespace) -> int:
    from publisher.inputs.spool.salvage import check_spool

    path = _spool_path(args)
    if path is None:
        return common.EXIT_USAGE
    try:
        report = check_spool(path)
    except PublisherError as exc:
        report_data = {"path": str(path), "ok": False, "problems": [str(exc)], "backlog": None}
        print(orjson.dumps(report_data).decode())
        return common.EXIT_FAILED
    print(orjson.dumps({**dataclasses.asdict(report), "ok": report.ok}).decode())
    return common.EXIT_OK if report.ok else common.EXIT_FAILED


def salvage_command(args: argparse.Namespace) -> int:
    from publisher.inputs.spool.salvage import salvage_spool

    path = _spool_path(args)
    if path is None:
        return common.EXIT_USAGE
    if not path.exists():
        print(f"partner-publisher: there is no spool file at {path}", file=sys.stderr)
        return common.EXIT_USAGE
    lock = os.open(path.with_name(path.name + ".consumer.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        print(f"partner-publisher: a daemon is running on {path}; stop it first", file=sys.stderr)
        return common.EXIT_USAGE
    try:
        report = salvage_spool(path)
    finally:
        os.close(lock)
    print(orjson.dumps(dataclasses.asdict(report)).decode())
    return common.EXIT_OK
