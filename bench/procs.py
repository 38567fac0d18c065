"""The processes a scenario needs: the emulator, the daemon, their configs and HTTP helpers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench import events
from bench.cpu import CLIENT_CORE, SERVER_CORE, CpuMeter, pinned

CLI = [sys.executable, "-m", "publisher"]
PYTHON = [sys.executable]
# The emulator with its event log kept out of full garbage collections (see the module).
EMULATOR = [sys.executable, "-m", "bench.emulator_proc", "emulator"]


class BenchError(RuntimeError):
    """A scenario could not run (a process failed to start, a deadline passed)."""


def child_env() -> dict[str, str]:
    """The environment of every child: fake credentials, no stray PUBLISHER__ overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env.update(AWS_EC2_METADATA_DISABLED="true", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_repo_root()), env.get("PYTHONPATH")]))
    return env


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, Any]:
    """(status, parsed JSON body) of a GET, or a POST when there is a body."""
    request = urllib.request.Request(url, data=body)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM, then SIGKILL after the grace period; a no-op when it already exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _log_tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class Emulator:
    """`partner-publisher emulator` pinned to the server core, with its control endpoints."""

    def __init__(self, workdir: Path, *flags: str) -> None:
        self.log_path = workdir / f"emulator-{time.monotonic_ns()}.log"
        self._flags = flags
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Emulator:
        command = [*EMULATOR, "--host", "127.0.0.1", "--port", "0", *self._flags]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                pinned(command, SERVER_CORE), stdout=log, stderr=subprocess.STDOUT, env=child_env()
            )
        deadline = time.monotonic() + 20
        while not self.url:
            for line in _log_tail(self.log_path, 10_000).splitlines():
                if line.startswith("emulator listening on "):
                    self.url = line.split()[-1]
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"emulator did not start: {_log_tail(self.log_path)}")
            time.sleep(0.05)
        self.reset()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10)

    def cpu_meter(self) -> CpuMeter:
        assert self.proc is not None
        return CpuMeter(self.proc.pid)

    def reset(self) -> None:
        """Forget events and counters; the benchmark's partner event source stays ACTIVE."""
        status, _ = http_json(f"{self.url}/_emulator/reset", b"")
        if status != 200:
            raise BenchError(f"emulator reset answered {status}")
        # The daemon checks its sources' states (ListPartnerEventSourceAccounts) and
        # dead-letters events for a source AWS does not know, so it must exist, ACTIVE.
        source = {"name": events.SOURCE, "account": events.ACCOUNT, "state": "ACTIVE"}
        status, _ = http_json(f"{self.url}/_emulator/sources", json.dumps(source).encode())
        if status != 200:
            raise BenchError(f"emulator source setup answered {status}")

    def accepted(self) -> int:
        """Entries the emulator accepted since the last reset."""
        status, stats = http_json(f"{self.url}/_emulator/stats")
        if status != 200:
            raise BenchError(f"emulator stats answered {status}")
        return int(stats["entries_accepted"])

    def events_since(self, since: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            status, data = http_json(
                f"{self.url}/_emulator/events?since={since}&limit=20000", timeout=120
            )
            if status != 200:
                raise BenchError(f"emulator events answered {status}")
            records += data["events"]
            since = data["next"]
            if not data["more"]:
                return records

    def wait_for(
        self,
        count: int,
        timeout_s: float,
        alive: subprocess.Popen[bytes],
        dead_letters: Path | None = None,
    ) -> None:
        """Poll until `count` entries arrived; fail early if the sender died or dead-lettered."""
        deadline = time.monotonic() + timeout_s
        while self.accepted() < count:
            if time.monotonic() > deadline:
                raise BenchError(f"only {self.accepted()}/{count} events after {timeout_s} s")
            if alive.poll() is not None:
                raise BenchError(f"process exited with {alive.returncode} before delivering all")
            if dead_letters is not None and dead_letters.exists() and dead_letters.stat().st_size:
                first = dead_letters.read_text(errors="replace").splitlines()[0]
                raise BenchError(f"the daemon dead-lettered events, first: {first[:300]}")
            time.sleep(0.02)

    def last_received_at(self, count: int) -> float:
        """When the emulator accepted the last of `count` events (wall-clock seconds)."""
        return max(float(r["received_at"]) for r in self.events_since(max(count - 20, 0)))


def write_config(
    directory: Path, endpoint_url: str, **sections: dict[str, Any]
) -> tuple[Path, dict[str, Any]]:
    """The reference config (config/local.yaml's values) with files under `directory`."""
    config: dict[str, Any] = {
        "aws": {"region": events.REGION, "endpoint_url": endpoint_url},
        "input": {"kind": "spool", "path": str(directory / "spool.db")},
        "ingest": {"host": "127.0.0.1", "port": free_port()},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "publish": {
            "max_entries": 20,
            "max_request_bytes": 262144,
            "linger_ms": 20,
            "max_in_flight": 32,
            "rate_limit_rps": 1400,
        },
        "retry": {"max_attempts": 12, "base_delay_ms": 100, "max_delay_ms": 30000},
        "dead_letter": {"path": str(directory / "dead-letters.jsonl")},
        "tenants": {events.TENANT: {"account": events.ACCOUNT, "source": events.SOURCE}},
    }
    for name, values in sections.items():
        if name == "input" and values.get("kind", "spool") != "spool":
            config["input"] = dict(values)  # another input kind shares no keys with the spool
        else:
            config.setdefault(name, {}).update(values)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, config


class Daemon:
    """`partner-publisher run` pinned to the client core, started and stopped around a block."""

    def __init__(
        self,
        directory: Path,
        config_path: Path,
        config: dict[str, Any],
        ready_path: str = "/readyz",
        *,
        wrapper: Sequence[str] = (),
        start_timeout_s: float = 30,
        stop_grace_s: float = 30,
    ) -> None:
        self.directory = directory
        self.ready_path = ready_path
        self._wrapper = list(wrapper)
        self._start_timeout_s = start_timeout_s
        self._stop_grace_s = stop_grace_s
        self.config_path = config_path
        ingest, admin = config["ingest"], config["admin"]
        self.ingest_url = f"http://{ingest['host']}:{ingest['port']}/v1/events"
        self.admin_url = f"http://{admin['host']}:{admin['port']}"
        self.log_path = directory / "daemon.log"
        self.dead_letters = Path(config["dead_letter"]["path"])
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        command = [*self._wrapper, *CLI, "run", "--config", str(self.config_path)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                pinned(command, CLIENT_CORE),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=self.directory,
            )
        self._wait_ready(self._start_timeout_s)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after the grace period); the exit code, None if never started."""
        if self.proc is None:
            return None
        stop_process(self.proc, self._stop_grace_s)
        return self.proc.returncode

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while http_json(f"{self.admin_url}{self.ready_path}", timeout=2)[0] != 200:
            if self.proc.poll() is not None:
                raise BenchError(f"daemon exited ({self.proc.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"daemon not ready after {timeout_s} s: {self.log_tail()}")
            time.sleep(0.1)

    def metric(self, name: str) -> float:
        """The value of an unlabelled sample on /metrics (0 when absent)."""
        request = urllib.request.Request(f"{self.admin_url}/metrics")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def log_tail(self) -> str:
        """The daemon log's last line: a failing command ends with its one-line reason."""
        lines = _log_tail(self.log_path).strip().splitlines()
        return lines[-1] if lines else "(no output)"
