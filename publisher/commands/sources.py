"""`partner-publisher sources ...`: manage the partner event sources of your customers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from publisher.aws import failures
from publisher.aws.partner_sources import (
    PartnerSources,
    SourceAdminError,
    open_partner_sources,
    validate_account,
    validate_source_name,
)
from publisher.aws.source_sync import sync_sources
from publisher.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_aws_target_options,
    add_config_option,
    settings_or_exit,
)
from publisher.commands.output import add_output_option, emit_rows, print_json
from publisher.core.tenants import TenantRegistry
from publisher.errors import ConfigError
from publisher.settings import Settings

if TYPE_CHECKING:
    from publisher.commands.common import Subparsers

Action = Callable[[PartnerSources, argparse.Namespace], Awaitable[int]]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "sources",
        help="create, inspect and delete partner event sources; sync them with the tenants",
    )
    actions = parser.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    create = _action(actions, "create", "create a source for one customer account (idempotent)")
    create.add_argument("--name", required=True, help="aws.partner/<partner>/<namespace>/<name>")
    create.add_argument("--account", required=True, help="the customer's 12-digit account id")
    describe = _action(actions, "describe", "show a source's name and ARN")
    describe.add_argument("--name", required=True)
    listing = _action(actions, "list", "list sources whose name starts with a prefix")
    listing.add_argument(
        "--prefix",
        help="e.g. aws.partner/example.com (default: the partner prefixes of the config's tenants)",
    )
    accounts = _action(actions, "accounts", "show the account a source was offered to, its state")
    accounts.add_argument("--name", required=True)
    delete = _action(actions, "delete", "delete a source (the customer's bus turns DELETED)")
    delete.add_argument("--name", required=True)
    delete.add_argument("--account", required=True)
    sync = _action(actions, "sync", "create missing sources for the tenants; report states")
    sync.add_argument("--dry-run", action="store_true", help="report only, change nothing")


def _action(actions: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    add_config_option(parser)
    add_aws_target_options(parser)
    add_output_option(parser)
    parser.set_defaults(func=run, action_name=name)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        if getattr(args, "name", None) is not None:
            validate_source_name(args.name)
        if getattr(args, "account", None) is not None:
            validate_account(args.account)
    except ValueError as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = with_target(settings_or_exit(args), args)
    try:
        if args.action_name == "sync":
            return asyncio.run(_sync(settings, args))
        if args.action_name == "list":
            args.prefixes = list_prefixes(args.prefix, settings)
        return asyncio.run(_single(settings, args, _ACTIONS[args.action_name]))
    except SourceAdminError as exc:
        print(failures.explain(exc.code, exc.message), file=sys.stderr)
        return EXIT_FAILED
    except ConfigError as exc:  # e.g. no credentials: the user's setup, not AWS
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE


def with_target(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with --profile / --endpoint-url in place of aws.profile / endpoint_url."""
    changes = {
        key: value
        for key, value in (("profile", args.profile), ("endpoint_url", args.endpoint_url))
        if value is not None
    }
    if not changes:
        return settings
    return settings.model_copy(update={"aws": settings.aws.model_copy(update=changes)})


async def _single(settings: Settings, args: argparse.Namespace, action: Action) -> int:
    async with open_partner_sources(settings.aws, args.region) as sources:
        return await action(sources, args)


async def _create(sources: PartnerSources, args: argparse.Namespace) -> int:
    result = await sources.create(args.name, args.account)
    status = "created" if result.created else "exists"
    emit_rows(
        args.output,
        [{"name": args.name, "account": args.account, "arn": result.arn, "status": status}],
    )
    return EXIT_OK


async def _describe(sources: PartnerSources, args: argparse.Namespace) -> int:
    emit_rows(args.output, [await sources.describe(args.name)])
    return EXIT_OK


def normalize_prefix(prefix: str) -> str:
    """`aws.partner/example.com` as AWS's NamePrefix wants it: `aws.partner/example.com/`."""
    if prefix.startswith("aws.partner/") and prefix.count("/") == 1 and len(prefix) > 12:
        return prefix + "/"
    return prefix


def list_prefixes(prefix: str | None, settings: Settings) -> list[str]:
    """The prefixes `sources list` asks for: the one given, else one per partner of the tenants."""
    if prefix is not None:
        return [normalize_prefix(prefix)]
    partners = sorted({t.source.split("/")[1] for t in settings.tenants.values()})
    if not partners:
        print(
            "partner-publisher: give --prefix aws.partner/<your domain>, or a --config with "
            "tenants (their sources' partner prefixes are listed)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)
    return [f"aws.partner/{partner}/" for partner in partners]


async def _list(sources: PartnerSources, args: argparse.Namespace) -> int:
    rows: list[dict[str, str]] = []
    for prefix in args.prefixes:
        rows += await sources.list_by_prefix(prefix)
    emit_rows(args.output, rows, empty=f"no sources start with {' or '.join(args.prefixes)}")
    return EXIT_OK


async def _accounts(sources: PartnerSources, args: argparse.Namespace) -> int:
    rows = [asdict(account) for account in await sources.accounts(args.name)]
    emit_rows(args.output, rows, empty=f"{args.name} was offered to no account")
    return EXIT_OK


async def _delete(sources: PartnerSources, args: argparse.Namespace) -> int:
    await sources.delete(args.name, args.account)
    emit_rows(args.output, [{"name": args.name, "account": args.account, "status": "deleted"}])
    return EXIT_OK


_ACTIONS: dict[str, Action] = {
    "create": _create,
    "describe": _describe,
    "list": _list,
    "accounts": _accounts,
    "delete": _delete,
}


async def _sync(settings: Settings, args: argparse.Namespace) -> int:
    tenants = TenantRegistry(settings.tenants, args.region or settings.aws.region)
    if not len(tenants):
        print("partner-publisher: no tenants in the config: nothing to sync", file=sys.stderr)
        return EXIT_USAGE
    async with AsyncExitStack() as stack:
        opened: dict[str, PartnerSources] = {}

        async def sources_for(region: str) -> PartnerSources:
            if region not in opened:
                opened[region] = await stack.enter_async_context(
                    open_partner_sources(settings.aws, region)
                )
            return opened[region]

        report = await sync_sources(tenants, sources_for, dry_run=args.dry_run)
    if args.output == "json":
        tenant_rows = [asdict(t) for t in report.tenants]
        print_json({"tenants": tenant_rows, "unused_sources": report.unused_sources})
        return EXIT_OK
    emit_rows("table", [asdict(t) for t in report.tenants])
    for name in report.unused_sources:
        print(f"unused: {name} (no tenant routes to it)")
    return EXIT_OK
