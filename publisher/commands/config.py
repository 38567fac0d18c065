"""`partner-publisher config check`: validate and print the effective config, secrets redacted."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import yaml

from publisher.commands.common import EXIT_OK, EXIT_USAGE, add_config_option, settings_or_exit
from publisher.core.tenants import configured_tenants
from publisher.errors import ConfigError

if TYPE_CHECKING:
    from publisher.commands.common import Subparsers


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("config", help="inspect the configuration")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate the config (file plus PUBLISHER__SECTION__KEY overrides) and print it",
        description="Exit 0 and print the effective config as YAML, or exit 2 saying why not.",
    )
    add_config_option(check)
    check.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    try:
        # `run` reads tenants_file at start: a file it would refuse is refused here too.
        configured_tenants(settings)
    except ConfigError as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(yaml.safe_dump(settings.redacted(), sort_keys=False), end="")
    return EXIT_OK
