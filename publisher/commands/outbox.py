"""`partner-publisher outbox install [--print]`: create the PostgreSQL outbox table, or print it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from publisher.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_actions,
    add_config_option,
    settings_or_exit,
)
from publisher.inputs.outbox_sql import OutboxSql
from publisher.settings import PostgresInputSettings, redact_url

if TYPE_CHECKING:
    from publisher.commands.common import Subparsers


def register(subparsers: Subparsers) -> None:
    actions = add_actions(subparsers, "outbox", "manage the PostgreSQL outbox table")
    install = actions.add_parser(
        "install",
        help="create input.table with its index and notify trigger (safe to run again)",
        description=(
            "Create the outbox table named by input.table (input.kind: postgres), its index "
            "and the trigger that notifies the daemon of inserts. Every statement is "
            "idempotent. With --print, write the DDL to stdout for your own migration tool "
            "instead of connecting. Exit 0 on success, 1 when the database refused, 2 on bad "
            "usage or config."
        ),
    )
    install.add_argument("--print", action="store_true", help="print the DDL, do not connect")
    add_config_option(install)
    install.set_defaults(func=install_outbox)


def install_outbox(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if not isinstance(settings.input, PostgresInputSettings):
        print(
            f"partner-publisher: outbox install needs input.kind: postgres "
            f"(the config has {settings.input.kind})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    sql = OutboxSql(settings.input.table)
    if args.print:
        sys.stdout.write(sql.ddl())
        return EXIT_OK
    try:
        asyncio.run(_install(settings.input, sql))
    except Exception as exc:  # psycopg's errors and OSError: say why, exit 1
        where = redact_url(settings.input.dsn.get_secret_value())
        print(f"partner-publisher: outbox install at {where} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"outbox table {settings.input.table} is installed")
    return EXIT_OK


async def _install(settings: PostgresInputSettings, sql: OutboxSql) -> None:
    from publisher.inputs.postgres import connect

    conn = await connect(settings, autocommit=False)
    try:
        async with conn.transaction():
            await conn.execute(sql.install_lock)
            await conn.execute(sql.ddl())
    finally:
        await conn.close()
