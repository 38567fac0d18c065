"""`partner-publisher trace ID`: what became of one event, from the ledger.

Prints the event's history; with `--output json` the last line is one JSON object (`id`,
`tenant`, `state`, `aws_event_id`, `attempts`, `reason`, `received_at`, `published_at`, ...).
Exit 0 when the ledger knows the event, 1 when it does not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from publisher.commands import common
from publisher.engine.deadletter import iso_time
from publisher.ledger.entry import UNKNOWN, LedgerEntry
from publisher.ledger.lookup import EventLookup
from publisher.settings import Settings


def register(subparsers: common.Subparsers) -> None:
    parser = common.add_command(
        subparsers,
        "trace",
        trace_event,
        help="show what became of one event (published with its EventId, or dead-lettered)",
        description="Looks the event up in the ledger (kept for ledger.retention_s). "
        "Exit 0 when found, 1 when unknown.",
    )
    parser.add_argument("id", metavar="ID", help="the event's id")
    parser.add_argument("--tenant", help="only this tenant's event with that id")
    parser.add_argument("--output", choices=["text", "json"], default="text")


def trace_event(args: argparse.Namespace) -> int:
    settings = common.settings_or_exit(args)
    found, entries = asyncio.run(_find(settings, args.id, args.tenant))
    if settings.ledger.retention_s <= 0:
        print("partner-publisher: the ledger is off (ledger.retention_s: 0)", file=sys.stderr)
    for entry in entries:
        print(_history_line(entry))
    if args.output == "json":
        sys.stdout.write(orjson.dumps(found).decode() + "\n")
    elif found["state"] == UNKNOWN:
        print(f"{args.id}: unknown (not in the ledger)")
    else:
        print(_summary(found))
    return common.EXIT_FAILED if found["state"] == UNKNOWN else common.EXIT_OK


async def _find(
    settings: Settings, event_id: str, tenant: str | None
) -> tuple[dict[str, Any], list[LedgerEntry]]:
    lookup = EventLookup(settings)
    try:
        return await lookup.find(event_id, tenant)
    finally:
        await lookup.close()


def _history_line(entry: LedgerEntry) -> str:
    line = f"{iso_time(entry.received_at)}  received  tenant={entry.tenant} id={entry.id}"
    if entry.settled_at is None:
        return f"{line}\n{iso_time(entry.written_at)}  {entry.state}  attempts={entry.attempts}"
    what = f"aws_event_id={entry.aws_event_id}"
    if entry.reason is not None:
        what = f"reason={entry.reason} dead_letter_id={entry.dead_letter_id}"
    return f"{line}\n{iso_time(entry.settled_at)}  {entry.state}  attempts={entry.attempts} {what}"


def _summary(found: dict[str, Any]) -> str:
    return f"{found['id']} ({found['tenant']}): {found['state']}"
