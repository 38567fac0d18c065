"""`partner-publisher config check`: validate and print the effective config, secrets redacted."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import yaml

from publisher.commands.common import EXIT_OK, add_config_option, settings_or_exit

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
    print(yaml.safe_dump(settings.redacted(), sort_keys=False), end="")
    return EXIT_OK
