"""`partner-publisher outbox install [--print]`: create the PostgreSQL outbox table, or print it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from publisher.commands import common
from publisher.inputs.outbox_sql import OutboxSql
from publisher.settings import PostgresInputSettings, redact_url


def register(subparsers: common.Subparsers) -> None:
    actions = common.add_actions(subparsers, "outbox", "manage the PostgreSQL outbox table")
    install = common.add_command(
        actions,
        "install",
        install_outbox,
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


def install_outbox(args: argparse.Namespace) -> int:
    settings = common.settings_or_exit(args)
    if not isinstance(settings.input, PostgresInputSettings):
        print(
            f"partner-publisher: outbox install needs input.kind: postgres "
            f"(the config has {settings.input.kind})",
            file=sys.stderr,
        )
        return common.EXIT_USAGE
    sql = OutboxSql(settings.input.table)
    if args.print:
        sys.stdout.write(sql.ddl())
        return common.EXIT_OK
    try:
        asyncio.run(_install(settings.input, sql))
    except Exception as exc:  # psycopg's errors and OSError: say why, exit 1
        where = redact_url(settings.input.dsn.get_secret_value())
        print(f"partner-publisher: outbox install at {where} failed: {exc}", file=sys.stderr)
        return common.EXIT_FAILED
    print(f"outbox table {settings.input.table} is installed")
    return common.EXIT_OK


async def _install(settings: PostgresInputSettings, sql: OutboxSql) -> None:
    from publisher.inputs.postgres import connect

    conn = await connect(settings, autocommit=False)
    try:
        async with conn.transaction():
            await conn.execute(sql.install_lock)
            await conn.execute(sql.ddl())
    finally:
        await conn.close()
