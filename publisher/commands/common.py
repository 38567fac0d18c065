"""What every command shares: the --config option, loading settings, clear usage errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from publisher.errors import ConfigError
from publisher.settings import Settings, load_settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="YAML config file (default: $PUBLISHER_CONFIG, ./partner-publisher.yaml, "
        "$XDG_CONFIG_HOME/partner-publisher/config.yaml; PUBLISHER__SECTION__KEY overrides)",
    )


def add_command(
    subparsers: Subparsers,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A command (or an action of one) that reads the config: its parser, --config added."""
    parser = subparsers.add_parser(name, help=help, description=description)
    add_config_option(parser)
    parser.set_defaults(func=run)
    return parser


def add_aws_target_options(parser: argparse.ArgumentParser) -> None:
    """`--profile`, `--region`, `--endpoint-url`: where a one-off AWS command goes."""
    parser.add_argument("--profile", help="AWS profile (default: aws.profile, then the chain)")
    parser.add_argument("--region", help="AWS Region (default: aws.region of the config)")
    parser.add_argument("--endpoint-url", help="another endpoint (e.g. the local emulator)")


def settings_or_exit(args: argparse.Namespace) -> Settings:
    """Load the settings, or print why not and exit 2."""
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def warn_unknown_regions(settings: Settings) -> None:
    """Say on stderr when the config names a Region AWS does not have (a typo sends every
    call to a host that does not exist, and events would wait out their retries)."""
    from publisher.aws.failures import unknown_regions  # botocore's data: only when asked

    regions = {settings.aws.region} | {t.region for t in settings.tenants.values() if t.region}
    for region in unknown_regions(regions, settings.aws.endpoint_url):
        print(
            f"partner-publisher: warning: {region} is not an AWS Region (check aws.region and "
            "the tenants' region)",
            file=sys.stderr,
        )


def add_actions(subparsers: Subparsers, name: str, help: str) -> Subparsers:
    """A command whose first argument names an action (`dlq list`, `spool check`)."""
    parser = subparsers.add_parser(name, help=help)
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
