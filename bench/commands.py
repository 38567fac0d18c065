"""The commands of the processes under test, shared by the scenarios that time or count them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.context import Context
from bench.procs import CLI, PYTHON, write_config


def client_command(ctx: Context, kind: str) -> list[str]:
    """bench.clients `kind` (sdk or http) sending ctx.events events to the emulator."""
    url = ctx.emulator.url
    return [*PYTHON, "-m", "bench.clients", kind, "--url", url, "--events", str(ctx.events)]


def loadgen_command(mode: str, url: str, *flags: str) -> list[str]:
    """bench.loadgen `mode` (flood, paced or steady) posting to the ingest at `url`."""
    return [*PYTHON, "-m", "bench.loadgen", mode, "--url", url, *flags]


def send_command(
    ctx: Context, directory: Path, **sections: dict[str, Any]
) -> tuple[list[str], Path]:
    """`partner-publisher send` of ctx.events events, and the config file it reads."""
    config_path, _ = write_config(directory, ctx.emulator.url, **sections)
    path = ctx.ndjson_file()
    command = [*CLI, "send", str(path), "--config", str(config_path), "--progress-interval-s", "0"]
    return command, config_path
