"""What the chaos tests share: the daemon as a process, a small real filesystem, waiting."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli
from tests.e2e.processes import Daemon, emulator_events, http_json, read_jsonl


def published_numbers(url: str) -> Counter[int]:
    return Counter(event["detail"]["n"] for event in emulator_events(url))


def dead_lettered_numbers(path: Path) -> Counter[int]:
    numbers: Counter[int] = Counter()
    for record in read_jsonl(path):
        event = record["event"]
        if isinstance(event, str):  # kept as raw text
            event = json.loads(event)
        numbers[event["detail"]["n"]] += 1
    return numbers


def readyz(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    status, body = http_json(f"{daemon.admin_url}/readyz", timeout=5)
    return status, body


def start_expecting_exit(config: Path, *flags: str, timeout_s: float = 30) -> tuple[int, str]:
    """`run` that is expected to refuse to start: its exit code and stderr."""
    result = run_cli("run", "--config", str(config), *flags, timeout_s=timeout_s)
    return result.returncode, result.stderr


def metrics_text(daemon: Daemon) -> str:
    with urllib.request.urlopen(f"{daemon.admin_url}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


@contextmanager
def small_filesystem(directory: Path, size: str = "2m") -> Iterator[Path]:
    """A real tmpfs of `size` at `directory` (root only): writes fail with ENOSPC when full."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; run the chaos tests as root")
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill_disk(directory: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem of `directory` up to `leave_bytes` free; returns the filler file."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    # Unbuffered: nothing left in a buffer to fail again when the file is closed.
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as handle:
        while os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize > leave_bytes:
            handle.write(chunk)
    return filler


def count_lines(text: str, event: str) -> int:
    return text.count(f'"event": "{event}"')


def replace_section(config: Path, name: str, value: Any) -> Path:
    """Set a whole config section (write_config merges into the defaults instead)."""
    data = yaml.safe_load(config.read_text())
    data[name] = value
    config.write_text(yaml.safe_dump(data))
    return config


@contextmanager
def kept_full(directory: Path) -> Iterator[None]:
    """Keep the filesystem of `directory` full: SQLite frees and reuses space as it goes
    (checkpoints, WAL restarts), so one fill alone lets some writes through."""
    stop = threading.Event()

    def top_up() -> None:
        while not stop.is_set():
            fill_disk(directory)
            stop.wait(0.02)

    thread = threading.Thread(target=top_up, name="disk-filler", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        (directory / "filler").unlink(missing_ok=True)
