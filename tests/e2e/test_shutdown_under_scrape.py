"""SIGTERM stops a daemon within its grace period while Prometheus keeps scraping it.

A real Prometheus scrapes the admin port several times a second, and a second scraper holds a
keep-alive connection open and asks for /metrics back to back, so the signal always finds
connections open and, often, a scrape under way. Each round starts a daemon on the same admin
port (so Prometheus finds every new one), waits until both scrapers have reached it, stores a
few events (the spool commits, so its checkpointer has work when it is stopped), sends SIGTERM
and requires exit code 0 within publish.shutdown_grace_s. Twenty rounds in a row, because the
hangs this guards against were races that showed up in one run out of several.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import emulator_process, free_port, tool, wait_until
from tests.e2e.processes import Daemon, event_lines, write_config

ROUNDS = 20
GRACE_S = 5
SCRAPE_INTERVAL = "200ms"

pytestmark = pytest.mark.timeout(110)


class KeepAliveScraper:
    """GETs /metrics over one persistent connection, back to back, reconnecting when the
    daemon goes away; `reused` counts answers on a connection that had answered before."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._stop = threading.Event()
        self.reused = 0
        self._thread = threading.Thread(target=self._run, name="keep-alive-scraper", daemon=True)

    def __enter__(self) -> KeepAliveScraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=2)
            answered = 0
            try:
                while not self._stop.is_set():
                    conn.request("GET", "/metrics")
                    response = conn.getresponse()
                    response.read()
                    answered += 1
                    if answered > 1:
                        self.reused += 1
            except (OSError, http.client.HTTPException):
                self._stop.wait(0.02)  # the daemon is between rounds: try again shortly
            finally:
                conn.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A Prometheus scraping one admin port; yields its URL and that port."""
    tmp = tmp_path_factory.mktemp("prometheus")
    admin_port, port = free_port(), free_port()
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL},
        "scrape_configs": [
            {"job_name": "daemon", "static_configs": [{"targets": [f"127.0.0.1:{admin_port}"]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    args = [
        tool("prometheus"),
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (tmp / "prometheus.log").open("w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _query(url, 'up{job="daemon"}'), 30, "Prometheus' first scrape")
        yield url, admin_port
    finally:
        proc.terminate()
        proc.wait(10)


def _query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            result: list[dict[str, Any]] = json.loads(response.read())["data"]["result"]
    except OSError:
        return []
    return result


def _scraped_up_since(prometheus_url: str, since: float) -> bool:
    """Prometheus' latest successful scrape of the daemon started after `since` (epoch s)."""
    result = _query(prometheus_url, 'timestamp(up{job="daemon"} == 1)')
    return bool(result) and float(result[0]["value"][1]) > since


def test_sigterm_exits_within_the_grace_period_while_scraped(
    tmp_path: Path, prometheus: tuple[str, int]
) -> None:
    prometheus_url, admin_port = prometheus
    exits: list[float] = []
    with emulator_process() as url, KeepAliveScraper(admin_port) as scraper:
        for round_number in range(ROUNDS):
            directory = tmp_path / f"round-{round_number}"
            directory.mkdir()
            config = write_config(
                directory,
                url,
                admin={"port": admin_port},
                publish={"linger_ms": 10, "shutdown_grace_s": GRACE_S},
            )
            exits.append(_one_round(config, prometheus_url, scraper))
    assert len(exits) == ROUNDS
    assert max(exits) < GRACE_S, exits


def _one_round(config: Path, prometheus_url: str, scraper: KeepAliveScraper) -> float:
    """Start, get scraped by both, store events, SIGTERM; returns seconds to exit."""
    daemon = Daemon(config, config.with_suffix(".log"))
    try:
        daemon.wait_ready()
        ready_at = time.time()
        reused_before = scraper.reused  # answers on a kept connection: keep-alive is in use
        wait_until(lambda: scraper.reused > reused_before + 3, 10, "keep-alive scrapes")
        wait_until(lambda: _scraped_up_since(prometheus_url, ready_at), 10, "a Prometheus scrape")
        status, reply = daemon.post(event_lines(range(50)).encode())
        assert (status, reply["accepted"]) == (202, 50)
        daemon.signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        try:
            code = daemon.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {GRACE_S} s after SIGTERM; log ends:\n{daemon.logs()[-3000:]}")
        assert code == 0, daemon.logs()[-3000:]
        return time.monotonic() - signalled_at
    finally:
        daemon.stop()
