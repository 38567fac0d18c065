"""What every test layer shares: free ports, installed tools, polling with a deadline, the
emulator (in process, or as a CLI process), the CLI's environment and Redis.

Helpers are plain functions (import them: `from tests.conftest import free_port`); fixtures are
found by pytest on their own.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from publisher.emulator import EmulatorOptions, RunningEmulator, running_emulator

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "publisher"]
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tool(name: str) -> str:
    """The tool from the virtualenv or PATH; a missing tool fails the test (CI installs it)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run .ci/deploy-tools.sh", pytrace=False)
    return found


def wait_until(
    predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    """Poll `predicate` until it is truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


async def eventually(
    predicate: Callable[[], Any | Awaitable[Any]],
    timeout_s: float,
    what: str,
    interval_s: float = 0.01,
) -> None:
    """The event loop's wait_until: `predicate` may be a coroutine function."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(interval_s)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI process: emulator credentials, no PUBLISHER_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env.update(AWS_EC2_METADATA_DISABLED="true", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(
    *args: str,
    timeout_s: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`partner-publisher ARGS` run to its end (text output, exit code not checked)."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=cli_env() if env is None else env,
        cwd=cwd,
        check=False,
    )


@contextmanager
def emulator_process(*flags: str) -> Iterator[str]:
    """A `partner-publisher emulator` process on a free port; yields its URL."""
    proc = subprocess.Popen(
        [*CLI, "emulator", "--host", "127.0.0.1", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("emulator listening on "), f"unexpected first line: {line!r}"
        yield line.split()[-1].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The emulator in this process, for tests not about sources: events for sources never
    created are delivered (a module about sources overrides the fixture)."""
    async with running_emulator(EmulatorOptions(accept_unknown_sources=True)) as emu:
        yield emu


@pytest.fixture
def emulator_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's default chain finds the emulator's credentials and nothing else."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "PUBLISHER_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def redis_stream() -> Iterator[str]:
    """A stream name of its own on the local Redis, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(LOCAL_REDIS_URL)
    client.delete(name)
    client.close()


@pytest.fixture
async def redis_admin() -> AsyncIterator[redis.asyncio.Redis]:
    """A client of the local Redis, for arranging and inspecting what a test does there."""
    client = redis.asyncio.Redis.from_url(LOCAL_REDIS_URL)
    yield client
    await client.aclose()


class RedisServer:
    """`redis-server` as a child process, for tests that stop and restart Redis; with
    `directory` it keeps an AOF fsynced on every write, so a restart (even after SIGKILL) comes
    back with everything it acknowledged."""

    def __init__(self, directory: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.directory is None:
            command += ["--appendonly", "no"]
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            command += ["--appendonly", "yes", "--appendfsync", "always"]
            command += ["--dir", str(self.directory)]
        self.proc = subprocess.Popen(
            [*command, "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:  # BusyLoadingError (AOF loading) too
                return False

        try:
            wait_until(answers, 10, f"redis-server on port {self.port}", interval_s=0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown save, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)
