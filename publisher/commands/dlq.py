"""`partner-publisher dlq list|replay`: inspect dead letters and put chosen ones back."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from publisher.commands.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_config_option,
    settings_or_exit,
)
from publisher.commands.output import add_output_option
from publisher.engine.deadletter import mark_replayed, read_dead_letters, replay_body, replayed_ids
from publisher.inputs.factory import build_input
from publisher.settings import Settings

if TYPE_CHECKING:
    from publisher.commands.common import Subparsers

REPLAY_CHUNK = 500


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("dlq", help="inspect and replay dead letters")
    actions = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show dead letters, newest last")
    _add_selectors(listing)
    listing.add_argument("--limit", type=int, default=100, help="show at most N (0: all)")
    add_output_option(listing)
    listing.set_defaults(func=list_letters)
    replay = actions.add_parser(
        "replay",
        help="put chosen dead letters back into the input (events keep their id)",
        description="Choose with --reason, --dead-letter-id or --all; replayed ones are "
        "remembered and not replayed again.",
    )
    _add_selectors(replay)
    replay.add_argument("--all", action="store_true", help="every dead letter not yet replayed")
    replay.add_argument("--dry-run", action="store_true", help="only say what would be replayed")
    replay.set_defaults(func=replay_letters)


def _add_selectors(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--reason", action="append", default=[], help="only this reason")
    parser.add_argument(
        "--dead-letter-id", action="append", default=[], help="only this dead letter"
    )
    parser.add_argument("--tenant", action="append", default=[], help="only this tenant")
    parser.add_argument(
        "--include-replayed", action="store_true", help="also those already replayed"
    )


def _selected(settings: Settings, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    path = settings.dead_letter.path
    skip = set() if args.include_replayed else replayed_ids(path)
    for record in read_dead_letters(path):
        event = record.get("event")
        tenant = event.get("tenant") if isinstance(event, dict) else None
        if record.get("dead_letter_id") in skip:
            continue
        if args.reason and record.get("reason") not in args.reason:
            continue
        if args.dead_letter_id and record.get("dead_letter_id") not in args.dead_letter_id:
            continue
        if args.tenant and tenant not in args.tenant:
            continue
        yield record


def list_letters(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    records = list(_selected(settings, args))
    if args.limit > 0:
        records = records[-args.limit :]
    if args.output == "json":
        for record in records:
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
        return EXIT_OK
    print(
        f"{'DEAD_LETTERED_AT':29}  {'REASON':18}  {'ERROR_CODE':22}  {'DEAD_LETTER_ID':32}  ERROR"
    )
    for record in records:
        print(
            f"{record.get('dead_lettered_at', ''):29}  {record.get('reason', ''):18}  "
            f"{record.get('error_code', ''):22}  {record.get('dead_letter_id', ''):32}  "
            f"{str(record.get('error_message', ''))[:80]}"
        )
    print(f"{len(records)} dead letter(s) in {settings.dead_letter.path}", file=sys.stderr)
    return EXIT_OK


def replay_letters(args: argparse.Namespace) -> int:
    if not (args.all or args.reason or args.dead_letter_id or args.tenant):
        print(
            "partner-publisher: dlq replay needs --all, --reason, --tenant or --dead-letter-id",
            file=sys.stderr,
        )
        return EXIT_USAGE
    settings = settings_or_exit(args)
    records = list(_selected(settings, args))
    if args.dry_run:
        print(f"would replay {len(records)} dead letter(s) into the {settings.input.kind} input")
        return EXIT_OK
    asyncio.run(_replay(settings, records))
    print(f"replayed {len(records)} dead letter(s) into the {settings.input.kind} input")
    return EXIT_OK


async def _replay(settings: Settings, records: list[dict[str, Any]]) -> None:
    target = build_input(settings.input, consumer=False, aws=settings.aws)
    await target.start()
    try:
        for start in range(0, len(records), REPLAY_CHUNK):
            chunk = records[start : start + REPLAY_CHUNK]
            await target.put([replay_body(record) for record in chunk])
            # Marked only once stored: a crash in between replays a chunk twice, never zero times.
            mark_replayed(settings.dead_letter.path, [str(r.get("dead_letter_id")) for r in chunk])
    finally:
        await target.close()
