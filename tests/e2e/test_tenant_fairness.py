"""Tenants share the send rate: a trickle tenant is not delayed by another's flood, a tenant's
rate limit holds it back without loss, and the admin endpoint lists every tenant."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from tests.conftest import emulator_process, wait_until
from tests.e2e.processes import (
    LENIENT,
    OTHER_SOURCE,
    SOURCE,
    daemon,
    emulator_events,
    event_lines,
    http_json,
    write_config,
)

FLOOD = 4_000
# 20 calls/s of 20 events, kept over one-second windows (no 2.5 s head start): the flood alone
# is 10 s of sending, first in first out.
HELD_RPS = 20


def test_a_trickle_tenant_overtakes_a_flood(tmp_path: Path) -> None:
    publish = {"rate_limit_rps": HELD_RPS, "rate_limit_window_s": 1, "linger_ms": 10}
    config_sections = {"publish": publish}
    with (
        emulator_process(LENIENT) as url,
        daemon(write_config(tmp_path, url, **config_sections)) as proc,
    ):
        for start in range(0, FLOOD, 500):
            status, _ = proc.post(event_lines(range(start, start + 500)).encode())
            assert status == 202
        answered: dict[int, float] = {}
        for n in range(5):
            status, _ = proc.post(event_lines([n], tenant="globex").encode())
            assert status == 202
            answered[n] = time.time()
            wait_until(lambda n=n: _arrived(url, OTHER_SOURCE, n), 10, f"globex event {n}")
        arrivals = {e["detail"]["n"]: e["received_at"] for e in _of(url, OTHER_SOURCE)}
        flood_so_far = len(_of(url, SOURCE))
        # Generous bounds: first in first out, each would wait for most of the 10 s flood.
        for n, at in answered.items():
            assert arrivals[n] - at < 3.0, f"globex event {n} took {arrivals[n] - at:.2f} s"
        assert flood_so_far < FLOOD, "the flood was over before the trickle: proves nothing"

        status, body = http_json(f"{proc.admin_url}/v1/tenants")
        assert status == 200
        rows = {row["tenant"]: row for row in body["tenants"]}
        assert set(rows) == {"acme", "globex"}
        assert rows["acme"]["backlog_events"] > 0
        assert set(rows["acme"]) >= {
            "backlog_events",
            "events_per_s",
            "oldest_event_age_s",
            "source_state",
            "weight",
            "max_events_per_s",
        }
        wait_until(
            lambda: 'publisher_tenant_backlog_events{tenant="acme"}' in _metrics(proc.admin_url),
            10,
            "the per-tenant backlog gauge",
        )


def test_a_tenants_rate_limit_holds_it_back_without_loss(tmp_path: Path) -> None:
    limit = 50
    tenants = {"acme": {"account": "111122223333", "source": SOURCE, "max_events_per_s": limit}}
    with (
        emulator_process(LENIENT) as url,
        daemon(write_config(tmp_path, url, tenants=tenants)) as proc,
    ):
        status, _ = proc.post(event_lines(range(200)).encode())
        assert status == 202
        status, _ = proc.post(event_lines(range(20), tenant="globex").encode())
        assert status == 202
        wait_until(lambda: len(_of(url, SOURCE)) == 200, 30, "every acme event")
        acme = sorted(e["received_at"] for e in _of(url, SOURCE))
        globex = sorted(e["received_at"] for e in _of(url, OTHER_SOURCE))
        assert sorted(e["detail"]["n"] for e in _of(url, SOURCE)) == list(range(200))
        # One second's burst, then at most `limit` a second: 200 events take 3 s at least.
        assert acme[-1] - acme[0] >= 2.5
        assert len(globex) == 20
        assert globex[-1] < acme[-1] - 1.0, "the other tenant waited for the limited one"
        wait_until(
            lambda: proc.metric("publisher_tenant_throttled_events_total") > 0,
            5,
            "the throttled counter",
        )


def _of(url: str, source: str) -> list[dict[str, object]]:
    return [e for e in emulator_events(url) if e["source"] == source]


def _arrived(url: str, source: str, n: int) -> bool:
    return any(e["detail"]["n"] == n for e in _of(url, source))


def _metrics(admin_url: str) -> str:
    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=5) as response:
        return str(response.read().decode())
