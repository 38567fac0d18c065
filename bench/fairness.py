"""Tenant fairness under a held send rate: one tenant's flood must not delay the others.

`tenant_flood`: the daemon held at 100 calls/s (`publish.rate_limit_rps`, 2,000 events/s),
tenant acme posts 24,000 events, then tenant globex posts 20 events one every 250 ms. Each
globex event's delay is the emulator's `received_at` minus the wall time its POST was
answered 202; the flood's rate is acme's events received per second while the trickle runs.

`tenant_zipf`: 200 tenants, Zipf-distributed load offered at 120% of the held rate for a
while; each tenant's p99 delivery latency (emulator `received_at` minus the POST's 202 time).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

import orjson

from bench import events
from bench.context import Context, Result
from bench.daemon_scenarios import _daemon, percentile
from bench.procs import BenchError, Daemon, http_json

HELD_RPS = 100
EVENTS_PER_CALL = 20
FLOOD_EVENTS = 24_000
TRICKLE_EVENTS = 20
TRICKLE_INTERVAL_S = 0.25
TRICKLE_TARGET_S = 1.5
FLOOD_RATE_TARGET = 0.8
ZIPF_TENANTS = 200
ZIPF_S = 1.1
ZIPF_OVERLOAD = 1.2
ZIPF_DURATION_S = 10.0
ZIPF_BODY_EVENTS = 40
NDJSON = {"Content-Type": "application/x-ndjson"}


def tenant(name: str) -> dict[str, str]:
    return {"account": events.ACCOUNT, "source": _source(name)}


def _source(name: str) -> str:
    return f"aws.partner/example.com/{name}/orders"


def _event(name: str, n: int, **detail: Any) -> bytes:
    body = {"tenant": name, "detail_type": events.DETAIL_TYPE, "detail": {"n": n, **detail}}
    return orjson.dumps(body)


def _create_sources(ctx: Context, names: list[str]) -> None:
    for name in names:
        source = {"name": _source(name), "account": events.ACCOUNT, "state": "ACTIVE"}
        status, _ = http_json(f"{ctx.emulator.url}/_emulator/sources", orjson.dumps(source))
        if status != 200:
            raise BenchError(f"emulator source setup answered {status}")


def _post(daemon: Daemon, lines: list[bytes]) -> float:
    """POST NDJSON until accepted (503 while full is retried); the wall time of the 202."""
    body = b"\n".join(lines)
    for _ in range(600):
        status, answer = _post_ndjson(daemon.ingest_url, body)
        if status == 202:
            if answer["accepted"] != len(lines):
                raise BenchError(f"ingest rejected events: {answer['rejected'][:3]}")
            return time.time()
        if status != 503:
            raise BenchError(f"ingest answered {status}: {answer}")
        time.sleep(0.05)
    raise BenchError("ingest stayed full")


def _post_ndjson(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=NDJSON)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, orjson.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"null")


def _held_daemon(ctx: Context, name: str, tenants: list[str]) -> Daemon:
    daemon = _daemon(
        ctx,
        name,
        publish={"rate_limit_rps": HELD_RPS},
        tenants={t: tenant(t) for t in tenants},
        input={"max_events": 1_000_000},
    )
    return daemon


def tenant_flood(ctx: Context) -> Result:
    """Reproduces the issue's measurement: a trickle tenant beside a 24,000-event flood."""
    flood_events = 2_000 if ctx.quick else FLOOD_EVENTS
    names = ["acme", "globex"]
    with _held_daemon(ctx, "tenant_flood", names) as daemon:
        _create_sources(ctx, names)
        for start in range(0, flood_events, 500):
            count = min(500, flood_events - start)
            _post(daemon, [_event("acme", n) for n in range(start, start + count)])
        answered: dict[int, float] = {}
        for n in range(TRICKLE_EVENTS):
            answered[n] = _post(daemon, [_event("globex", n)])
            time.sleep(TRICKLE_INTERVAL_S)
        assert daemon.proc is not None
        total = flood_events + TRICKLE_EVENTS
        ctx.emulator.wait_for(total, 120, daemon.proc, daemon.dead_letters)
        records = ctx.emulator.events_since(0)
    return _flood_figures(records, answered, flood_events)


def _flood_figures(
    records: list[dict[str, Any]], answered: dict[int, float], flood_events: int
) -> Result:
    trickle = {
        r["detail"]["n"]: float(r["received_at"])
        for r in records
        if r["source"] == _source("globex")
    }
    delays = sorted(trickle[n] - answered[n] for n in answered)
    window = (answered[0], max(trickle.values()))
    flood_in_window = sum(
        1
        for r in records
        if r["source"] == _source("acme") and window[0] <= float(r["received_at"]) <= window[1]
    )
    flood_rate = flood_in_window / (window[1] - window[0])
    held_rate = HELD_RPS * EVENTS_PER_CALL
    return {
        "events": flood_events + len(answered),
        "flood_events": flood_events,
        "trickle_events": len(answered),
        "trickle_p50_s": round(statistics.median(delays), 3),
        "trickle_max_s": round(delays[-1], 3),
        "trickle_delays_s": [round(d, 3) for d in delays],
        "flood_events_per_s_during_trickle": round(flood_rate, 1),
        "flood_share_of_rate_limit": round(flood_rate / held_rate, 3),
        "target_trickle_max_s": TRICKLE_TARGET_S,
        "target_met": delays[-1] <= TRICKLE_TARGET_S
        and flood_rate >= FLOOD_RATE_TARGET * held_rate,
    }


def _zipf_weights(count: int) -> list[float]:
    return [1 / (rank**ZIPF_S) for rank in range(1, count + 1)]


def tenant_zipf(ctx: Context) -> Result:
    """200 tenants, Zipf load at 120% of the held rate: each tenant's p99 delivery latency."""
    names = [f"t{rank:03d}" for rank in range(1, ZIPF_TENANTS + 1)]
    duration = 3.0 if ctx.quick else ZIPF_DURATION_S
    rate = HELD_RPS * EVENTS_PER_CALL * ZIPF_OVERLOAD
    rng = random.Random(20)
    weights = _zipf_weights(len(names))
    with _held_daemon(ctx, "tenant_zipf", names) as daemon:
        _create_sources(ctx, names)
        answered, sent = _offer_zipf(daemon, names, weights, rng, rate, duration)
        assert daemon.proc is not None
        ctx.emulator.wait_for(sent, 180, daemon.proc, daemon.dead_letters)
        records = ctx.emulator.events_since(0)
    latencies: dict[str, list[float]] = defaultdict(list)
    for record in records:
        detail = record["detail"]
        latencies[detail["tenant"]].append(float(record["received_at"]) - answered[detail["body"]])
    p99 = {name: round(percentile(sorted(values), 99), 3) for name, values in latencies.items()}
    by_rank = [p99[name] for name in names if name in p99]
    counts = {name: len(latencies[name]) for name in names}
    return {
        "events": sent,
        "tenants": len(names),
        "offered_events_per_s": rate,
        "duration_s": duration,
        "p99_s_by_tenant": p99,
        "events_by_tenant": counts,
        "p99_s_top_tenant": by_rank[0],
        "p99_s_median_tenant": round(statistics.median(by_rank), 3),
        "p99_s_worst_of_rest": max(by_rank[1:]),
    }


def _offer_zipf(
    daemon: Daemon,
    names: list[str],
    weights: list[float],
    rng: random.Random,
    rate: float,
    duration: float,
) -> tuple[dict[int, float], int]:
    """Bodies of ZIPF_BODY_EVENTS events paced at `rate`; each body's 202 time by body number."""
    answered: dict[int, float] = {}
    lock = threading.Lock()
    interval = ZIPF_BODY_EVENTS / rate
    bodies = int(duration / interval)
    threads: list[threading.Thread] = []
    started = time.monotonic()
    for body_no in range(bodies):
        chosen = rng.choices(names, weights, k=ZIPF_BODY_EVENTS)
        lines = [_event(t, i, tenant=t, body=body_no) for i, t in enumerate(chosen)]

        def post(body_no: int = body_no, lines: list[bytes] = lines) -> None:
            at = _post(daemon, lines)
            with lock:
                answered[body_no] = at

        thread = threading.Thread(target=post)
        thread.start()
        threads.append(thread)
        time.sleep(max(0.0, started + (body_no + 1) * interval - time.monotonic()))
    for thread in threads:
        thread.join()
    return answered, bodies * ZIPF_BODY_EVENTS
