"""Helpers that run the CLI as real processes: the emulator, the daemon, `send`."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CLI, cli_env, free_port, run_cli, wait_until

SOURCE = "aws.partner/example.com/acme/orders"
OTHER_SOURCE = "aws.partner/example.com/globex/orders"
ACCOUNT = "111122223333"
# Emulator flags naming both customers of write_config's tenants (the partner signs with any
# other key, e.g. `testing`); a test passes the customer's key to act on its side.
CUSTOMER_ACCOUNTS = ("--account", f"acme={ACCOUNT}", "--account", "globex=444455556666")
# For tests not about sources: events for sources never created are delivered.
LENIENT = "--accept-unknown-sources"


def write_config(directory: Path, endpoint_url: str, **sections: dict[str, Any]) -> Path:
    config: dict[str, Any] = {
        "aws": {"region": "us-east-1", "endpoint_url": endpoint_url},
        "input": {"kind": "spool", "path": str(directory / "spool.db")},
        "ingest": {
            "host": "127.0.0.1",
            "port": free_port(),
            "dedupe_path": str(directory / "ingest-dedupe.db"),
        },
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "publish": {"linger_ms": 10, "shutdown_grace_s": 10},
        "retry": {"base_delay_ms": 5, "max_delay_ms": 200},
        "dead_letter": {"path": str(directory / "dead-letters.jsonl")},
        # Source states are off unless a test is about them: the emulator's sources are
        # unknown until created, and AWS's answer for an unknown source is "missing".
        "sources": {"refresh": False},
        "tenants": {
            "acme": {"account": ACCOUNT, "source": SOURCE},
            "globex": {"account": "444455556666", "source": OTHER_SOURCE},
        },
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def event_lines(numbers: Sequence[int], tenant: str = "acme") -> str:
    return "".join(
        json.dumps({"tenant": tenant, "detail_type": "OrderCreated", "detail": {"n": n}}) + "\n"
        for n in numbers
    )


def http_json(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def emulator_events(url: str) -> list[dict[str, Any]]:
    """Every event the emulator delivered, read page by page."""
    events: list[dict[str, Any]] = []
    since = 0
    while True:
        status, data = http_json(f"{url}/_emulator/events?since={since}&limit=10000")
        assert status == 200
        events += data["events"]
        since = data["next"]
        if not data["more"]:
            return events


def set_faults(url: str, **faults: Any) -> None:
    status, _ = http_json(
        f"{url}/_emulator/faults", json.dumps(faults).encode(), {"Content-Type": "application/json"}
    )
    assert status == 200


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Daemon:
    """A `partner-publisher run` process and the ports it serves on."""

    def __init__(self, config: Path, log_path: Path, flags: Sequence[str] = ()) -> None:
        settings = yaml.safe_load(config.read_text())
        self.config = config
        self.ingest_url = f"http://127.0.0.1:{settings['ingest']['port']}"
        self.admin_url = f"http://127.0.0.1:{settings['admin']['port']}"
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [*CLI, "run", "--config", str(config), *flags],
            stdout=self._log,
            stderr=self._log,
            env=cli_env(),
        )

    def wait_ready(self, timeout_s: float = 20) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.logs()[-2000:]}")
            try:
                return http_json(f"{self.admin_url}/readyz", timeout=1)[0] == 200
            except OSError:
                return False

        wait_until(ready, timeout_s, "the daemon to be ready")

    def post(self, body: bytes, content_type: str = "application/x-ndjson") -> tuple[int, Any]:
        return http_json(f"{self.ingest_url}/v1/events", body, {"Content-Type": content_type})

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"{self.admin_url}/metrics", timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


@contextmanager
def daemon(config: Path, log_path: Path | None = None) -> Iterator[Daemon]:
    process = Daemon(config, log_path or config.with_suffix(".log"))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def input_config(directory: Path, url: str, source: dict[str, Any], **sections: Any) -> Path:
    """write_config with the `input` section replaced (not merged into the spool's)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = write_config(directory, url, **sections)
    config = yaml.safe_load(path.read_text())
    config["input"] = source
    path.write_text(yaml.safe_dump(config))
    return path


def enqueue(config: Path, lines: str, tmp_path: Path) -> dict[str, Any]:
    """`partner-publisher enqueue` of these NDJSON lines; its JSON summary."""
    events = tmp_path / "events.ndjson"
    events.write_text(lines)
    done = run_cli("enqueue", "--config", str(config), str(events))
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def start_replicas(
    replicas: list[Daemon],
    tmp_path: Path,
    url: str,
    sources: Sequence[dict[str, Any]],
    **sections: Any,
) -> None:
    """One daemon (ingest off) a source, each added to `replicas` as it starts, so that the
    caller's cleanup stops every one even when a later one fails; then wait until all are ready."""
    for index, source in enumerate(sources):
        directory = tmp_path / f"replica-{index}"
        config = input_config(directory, url, source, ingest={"enabled": False}, **sections)
        replicas.append(Daemon(config, tmp_path / f"replica-{index}.log"))
    for replica in replicas:
        replica.wait_ready()


def kill_at_work(victim: Daemon, counter: str, timeout_s: float, what: str) -> None:
    """SIGKILL the daemon once `counter` shows it at work, and check that the kill is what
    ended it."""
    wait_until(lambda: victim.metric(counter) > 0, timeout_s, what)
    victim.signal(signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
