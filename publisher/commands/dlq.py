"""`partner-publisher dlq list|replay`: inspect dead letters and put chosen ones back."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from publisher.commands import common
from publisher.commands.output import add_output_option
from publisher.deadletters.factory import build_dead_letter_store
from publisher.deadletters.replay import Selection, read_selected, replay
from publisher.deadletters.store import StoredDeadLetter
from publisher.settings import Settings


def register(subparsers: common.Subparsers) -> None:
    actions = common.add_actions(subparsers, "dlq", "inspect and replay dead letters")
    listing = common.add_command(
        actions, "list", list_letters, help="show dead letters, newest last"
    )
    _add_selectors(listing)
    listing.add_argument("--limit", type=int, default=100, help="show at most N (0: all)")
    add_output_option(listing)
    replay = common.add_command(
        actions,
        "replay",
        replay_letters,
        help="put chosen dead letters back into the input (events keep their id)",
        description="Choose with --reason, --dead-letter-id or --all; replayed ones are "
        "remembered and not replayed again.",
    )
    _add_selectors(replay)
    replay.add_argument("--all", action="store_true", help="every dead letter not yet replayed")
    replay.add_argument("--dry-run", action="store_true", help="only say what would be replayed")


def _add_selectors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", action="append", default=[], help="only this reason")
    parser.add_argument(
        "--dead-letter-id", action="append", default=[], help="only this dead letter"
    )
    parser.add_argument("--tenant", action="append", default=[], help="only this tenant")
    parser.add_argument(
        "--include-replayed", action="store_true", help="also those already replayed"
    )


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(
        reasons=tuple(args.reason),
        dead_letter_ids=tuple(args.dead_letter_id),
        tenants=tuple(args.tenant),
        include_replayed=args.include_replayed,
    )


async def _read(settings: Settings, args: argparse.Namespace) -> tuple[list[StoredDeadLetter], str]:
    chosen = await read_selected(settings, _selection(args))
    return chosen, build_dead_letter_store(settings).describe


def list_letters(args: argparse.Namespace) -> int:
    settings = common.settings_or_exit(args)
    chosen, where = asyncio.run(_read(settings, args))
    records = [letter.record for letter in chosen]
    if args.limit > 0:
        records = records[-args.limit :]
    if args.output == "json":
        for record in records:
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
        return common.EXIT_OK
    print(
        f"{'DEAD_LETTERED_AT':29}  {'REASON':18}  {'ERROR_CODE':22}  {'DEAD_LETTER_ID':32}  ERROR"
    )
    for record in records:
        print(
            f"{record.get('dead_lettered_at', ''):29}  {record.get('reason', ''):18}  "
            f"{record.get('error_code', ''):22}  {record.get('dead_letter_id', ''):32}  "
            f"{str(record.get('error_message', ''))[:80]}"
        )
    print(f"{len(records)} dead letter(s) in {where}", file=sys.stderr)
    return common.EXIT_OK


def replay_letters(args: argparse.Namespace) -> int:
    if not (args.all or args.reason or args.dead_letter_id or args.tenant):
        print(
            "partner-publisher: dlq replay needs --all, --reason, --tenant or --dead-letter-id",
            file=sys.stderr,
        )
        return common.EXIT_USAGE
    settings = common.settings_or_exit(args)
    if args.dry_run:
        chosen, _ = asyncio.run(_read(settings, args))
        print(f"would replay {len(chosen)} dead letter(s) into the {settings.input.kind} input")
        return common.EXIT_OK
    replayed = asyncio.run(replay(settings, _selection(args)))
    print(f"replayed {replayed} dead letter(s) into the {settings.input.kind} input")
    return common.EXIT_OK
