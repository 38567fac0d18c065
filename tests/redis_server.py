"""A private redis-server process on a free port, for tests that stop and restart Redis."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """`redis-server` as a child process; with `directory` it keeps an AOF fsynced on every
    write, so a restart (even after SIGKILL) comes back with everything it acknowledged."""

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
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    # BusyLoadingError (loading the AOF) is a ConnectionError too.
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
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
