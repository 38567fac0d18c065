"""A real Prometheus scrapes a running daemon; every dashboard query and alert returns data.

Processes: the emulator (with faults, so retries, throttling and dead letters happen), the
daemon (`partner-publisher run`), and Prometheus scraping the admin port every second with the
shipped alert rules loaded. Events go in through HTTP ingest.

What "returns data" means:
- dashboard: each panel target, Grafana variables substituted, yields at least one series;
- alert: the expression evaluates without error (in Prometheus' own rule evaluation, and by a
  query), and every series selector in it yields at least one series on its own. The threshold
  comparison is what decides whether an alert fires, so it is not asked to hold here (the
  promtool unit tests cover firing); the selectors prove each input the alert reads exists
  with the labels it filters on.
A metric the daemon does not define yet (not in publisher.observe.metrics.Metrics) is exempt
from the data requirement; its queries must still evaluate. The exemption ends by itself once the
metric is added.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from publisher.observe.metrics import Metrics
from tests.conftest import free_port, tool
from tests.deploy_files import RULES, alerts, dashboard_exprs

SELECTOR = re.compile(r"\b(up|publisher_[a-z_]+)\b(\s*\{[^}]*\})?")
EVENTS = 400
SHUTDOWN_GRACE_S = 5
LOGS: dict[int, Path] = {}  # pid -> stderr log of the processes the fixture started


def defined_series_names() -> set[str]:
    """Every series name the daemon's metrics can expose (counter _total, histogram parts)."""
    names = {"up"}
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def http_json(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        code: int = response.status
        return code


def wait_for(
    what: str, check: Any, timeout_s: float, proc: subprocess.Popen[str] | None = None
) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            log = LOGS.get(proc.pid)
            tail = log.read_text(encoding="utf-8")[-2000:] if log else ""
            pytest.fail(f"{what}: process exited with {proc.returncode}; its log ends:\n{tail}")
        try:
            last = check()
            if last:
                return last
        except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


@dataclass
class Stack:
    prometheus_url: str
    admin_url: str
    daemon: subprocess.Popen[str]
    events_posted: int


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    with log.open("w") as handle:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=handle, text=True, env=env)
    LOGS[proc.pid] = log
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def emulator_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"emulator listening on (http://\S+)", line)
    assert match, f"unexpected emulator output: {line!r}"
    return match.group(1)


def write_config(tmp: Path, endpoint: str, ingest_port: int, admin_port: int) -> Path:
    config = {
        "aws": {"region": "us-east-1", "endpoint_url": endpoint},
        "input": {"kind": "spool", "path": str(tmp / "spool.db")},
        "ingest": {"host": "127.0.0.1", "port": ingest_port},
        "admin": {"host": "127.0.0.1", "port": admin_port},
        "publish": {"linger_ms": 5, "shutdown_grace_s": SHUTDOWN_GRACE_S},
        "retry": {"max_attempts": 3, "base_delay_ms": 5, "max_delay_ms": 50},
        "dead_letter": {"path": str(tmp / "dead-letters.jsonl")},
        "sources": {"refresh_interval_s": 1},
        "tenants": {
            "acme": {"account": "111122223333", "source": "aws.partner/example.com/acme/orders"}
        },
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def write_prometheus_config(tmp: Path, admin_port: int) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "partner-publisher",
                "static_configs": [{"targets": [f"127.0.0.1:{admin_port}"]}],
            }
        ],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def post_events(ingest_port: int, count: int, batch: int = 50) -> None:
    for start_at in range(0, count, batch):
        body = "\n".join(
            json.dumps(
                {
                    "tenant": "acme",
                    "detail_type": "OrderCreated",
                    "detail": {"order": i, "total": i * 3},
                    "id": f"ord-{i}",
                }
            )
            for i in range(start_at, min(count, start_at + batch))
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{ingest_port}/v1/events",
            data=body.encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        time.sleep(0.2)


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        answer = http_json(url)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{promql}: {exc.read().decode()}") from None
    assert answer["status"] == "success", f"{promql}: {answer}"
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def scraped_total(admin_url: str, names: tuple[str, ...]) -> float:
    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(names)
    )


# Faults so that retries (InternalFailure), dead letters (AccessDeniedException, attempts
# exhausted) and throttled calls all happen; seeded, so the run is repeatable.
EMULATOR_FAULTS = [
    *("--seed", "7"),
    *("--fault-entry", "InternalFailure=0.2"),
    *("--fault-entry", "AccessDeniedException=0.03"),
    *("--fault-throttle", "0.1"),
]


def start_daemon(
    cli: list[str], tmp: Path, endpoint: str, env: dict[str, str]
) -> tuple[subprocess.Popen[str], int, int]:
    ingest_port, admin_port = free_port(), free_port()
    config = write_config(tmp, endpoint, ingest_port, admin_port)
    # Creates the tenant's source in the emulator, so the state refresh finds it (PENDING).
    sync = subprocess.run(
        [*cli, "sources", "sync", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    daemon = start([*cli, "run", "--config", str(config)], tmp / "daemon.log", env)
    admin_url = f"http://127.0.0.1:{admin_port}"
    wait_for("daemon ready", lambda: status(f"{admin_url}/readyz") == 200, 30, daemon)
    return daemon, ingest_port, admin_port


def start_prometheus(
    tmp: Path, admin_port: int, env: dict[str, str]
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    args = [
        tool("prometheus"),
        f"--config.file={write_prometheus_config(tmp, admin_port)}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    server = start(args, tmp / "prometheus.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_for("first scrape", lambda: query(url, 'up{job="partner-publisher"} == 1'), 30, server)
    return server, url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tool("prometheus")
    tmp = tmp_path_factory.mktemp("scrape")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    cli = [str(Path(sys.executable).parent / "partner-publisher")]
    procs: list[subprocess.Popen[str]] = []
    try:
        emulator = start(
            [*cli, "emulator", "--host", "127.0.0.1", "--port", "0", *EMULATOR_FAULTS],
            tmp / "emulator.log",
            env,
        )
        procs.append(emulator)
        daemon, ingest_port, admin_port = start_daemon(cli, tmp, emulator_url(emulator), env)
        procs.append(daemon)
        server, prometheus_url = start_prometheus(tmp, admin_port, env)
        procs.append(server)
        post_events(ingest_port, EVENTS)
        admin_url = f"http://127.0.0.1:{admin_port}"
        settled = ("publisher_events_published_total", "publisher_events_dead_lettered_total")
        wait_for(
            "all events settled", lambda: scraped_total(admin_url, settled) >= EVENTS, 60, daemon
        )
        # rate() needs two samples that hold the increases: wait for a second scrape after.
        second_scrape = f'timestamp(up{{job="partner-publisher"}}) > {time.time() + 1}'
        wait_for(
            "two scrapes after the last event settled",
            lambda: query(prometheus_url, second_scrape),
            30,
            server,
        )
        yield Stack(prometheus_url, admin_url, daemon, EVENTS)
    finally:
        for proc in reversed(procs):
            stop(proc)


def selectors(expr: str) -> list[tuple[str, str]]:
    """(series name, selector text) for every vector selector in a PromQL expression."""
    return [(m.group(1), m.group(0)) for m in SELECTOR.finditer(expr)]


def test_every_dashboard_panel_returns_data(stack: Stack) -> None:
    defined = defined_series_names()
    empty = []
    for title, expr in dashboard_exprs():
        result = query(stack.prometheus_url, expr)
        names = {name for name, _ in selectors(expr)}
        if not result and names <= defined:
            empty.append(title)
    assert not empty, f"panels without data: {empty}"


def test_every_alert_expression_and_its_selectors_return_data(stack: Stack) -> None:
    defined = defined_series_names()
    missing = []
    for rule in alerts():
        query(stack.prometheus_url, rule["expr"])  # raises on an evaluation error
        for name, selector in selectors(rule["expr"]):
            if name in defined and not query(stack.prometheus_url, selector):
                missing.append(f"{rule['alert']}: {selector}")
    assert not missing, f"alert inputs without data: {missing}"


def test_prometheus_evaluates_the_shipped_rules_without_errors(stack: Stack) -> None:
    groups = http_json(f"{stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["name"] for r in rules} == {r["alert"] for r in alerts()}
    assert all(r["lastEvaluation"] != "0001-01-01T00:00:00Z" for r in rules)
    broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not broken, broken


def test_faults_showed_up_as_retries_throttling_and_dead_letters(stack: Stack) -> None:
    """The scenario really exercised the error paths the alerts and panels watch."""
    retried = query(stack.prometheus_url, "sum by (error_code) (publisher_events_retried_total)")
    assert "InternalFailure" in {r["metric"].get("error_code") for r in retried}
    throttled = query(stack.prometheus_url, 'publisher_put_requests_total{outcome="throttled"} > 0')
    assert throttled
    dead = query(stack.prometheus_url, "sum(publisher_events_dead_lettered_total)")
    assert dead
    assert float(dead[0]["value"][1]) > 0


def test_daemon_drains_and_exits_on_sigterm(stack: Stack) -> None:
    """In a container the daemon is PID 1: without its own SIGTERM handler it would ignore it."""
    stack.daemon.send_signal(signal.SIGTERM)
    try:
        code = stack.daemon.wait(timeout=SHUTDOWN_GRACE_S + 5)
    except subprocess.TimeoutExpired:
        pytest.fail("the daemon did not exit within shutdown_grace_s + 5 s of SIGTERM")
    assert code == 0, f"exit code {code} (-15 means no SIGTERM handler)"
