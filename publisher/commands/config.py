"""`partner-publisher config check`: validate and print the effective config, secrets redacted."""

from __future__ import annotations

import argparse
import os
import sys

import yaml

from publisher.commands import common
from publisher.core.tenants import configured_tenants
from publisher.errors import ConfigError
from publisher.settings import Settings, load_tenants_file
from publisher.settings.files import choose_config


def register(subparsers: common.Subparsers) -> None:
    actions = common.add_actions(subparsers, "config", "inspect the configuration")
    check = common.add_command(
        actions,
        "check",
        check_config,
        help="validate the config (file plus PUBLISHER__SECTION__KEY overrides) and print it",
        description="Print the effective config as YAML and exit 0 (warnings on stderr), or "
        "exit 2 saying why not; with --strict, warnings exit 2 too.",
    )
    check.add_argument(
        "--strict", action="store_true", help="exit 2 on warnings too (e.g. no tenants)"
    )


def check_config(args: argparse.Namespace) -> int:
    choice = choose_config(args.config, os.environ)
    settings = common.settings_or_exit(args)
    try:
        # `run` reads tenants_file at start: a file it would refuse is refused here too.
        configured_tenants(settings)
    except ConfigError as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    # A YAML comment, so the output stays a loadable config.
    print(f"# config file: {choice.describe()}")
    print(yaml.safe_dump(settings.redacted(), sort_keys=False), end="")
    warnings = config_warnings(settings)
    for warning in warnings:
        print(f"partner-publisher: warning: {warning}", file=sys.stderr)
    return common.EXIT_USAGE if warnings and args.strict else common.EXIT_OK


def config_warnings(settings: Settings) -> list[str]:
    """What is valid but cannot work as meant."""
    tenants = len(settings.tenants)
    if settings.tenants_file is not None:
        try:
            tenants += len(load_tenants_file(settings.tenants_file))
        except ConfigError as exc:
            return [str(exc)]
    if tenants == 0:
        return [
            "no tenants: the daemon would refuse every event (add a `tenants:` section or "
            "`tenants_file:`)"
        ]
    return []
