"""`python -m publisher.emulator ...`: the emulator command without the rest of the CLI."""

from __future__ import annotations

import argparse
import sys

from publisher.commands import emulator as emulator_command


def main(argv: list[str] | None = None) -> int:
    """Parse the emulator's flags and run it until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m publisher.emulator")
    subparsers = parser.add_subparsers(dest="command", required=True)
    emulator_command.register(subparsers)
    args = parser.parse_args(["emulator", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
