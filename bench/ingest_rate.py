"""Measure HTTP ingest throughput against the memory input; print it and append it to results/.

The server (Ingest over MemoryInput) runs in this process, the load generator in a child
process, so each gets a core. A ticker in the server process records how late the event loop
wakes up (loop lag): what a large body decoded on the loop costs every other request.

Run: .venv/bin/python -m bench.ingest_rate [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import structlog

import publisher.http.ingest
from bench.events import ACCOUNT, SOURCE, TENANT, ndjson
from publisher.core.tenants import TenantRegistry
from publisher.http.ingest import Ingest
from publisher.inputs.memory import MemoryInput
from publisher.observe.metrics import Metrics
from publisher.settings import IngestSettings, TenantSettings

RESULTS = Path(__file__).parent / "results" / "ingest_rate.json"
TICK_S = 0.005


async def client(url: str, body_events: int, requests: int, concurrency: int) -> dict[str, Any]:
    """POST `requests` NDJSON bodies of `body_events` events, `concurrency` at a time."""
    body = ndjson(0, body_events)
    headers = {"Content-Type": "application/x-ndjson"}
    remaining = requests
    accepted = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal remaining, accepted
            while remaining > 0:
                remaining -= 1
                async with http.post(url, data=body, headers=headers) as response:
                    answer = await response.json()
                    if response.status != 202:
                        raise RuntimeError(f"{response.status}: {answer}")
                    accepted += answer["accepted"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"accepted": accepted, "elapsed_s": elapsed, "body_bytes": len(body)}


class LoopLag:
    """Samples how late a TICK_S sleep wakes up, while the load runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(TICK_S)
            self.samples.append(loop.time() - before - TICK_S)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def summary_ms(self) -> dict[str, float]:
        ordered = sorted(self.samples) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return {
            "loop_lag_p99_ms": round(p99 * 1000, 1),
            "loop_lag_max_ms": round(ordered[-1] * 1000, 1),
        }


async def drain(sink: MemoryInput, sent: asyncio.Event) -> int:
    """Fetch and ack everything, as the pipeline would, so the input does not grow for ever
    (millions of live objects would make the garbage collector's pauses the measurement),
    until the load generator is done and nothing is left."""
    drained = 0
    while True:
        messages = await sink.fetch(20_000, wait_s=0.05)
        await sink.ack(messages)
        drained += len(messages)
        if not messages and sent.is_set() and await sink.backlog() == 0:
            return drained


async def scenario(
    name: str, body_events: int, requests: int, concurrency: int, decode: str = "sliced"
) -> dict[str, Any]:
    """decode: sliced (the default) or whole (one go on the loop)."""
    tenants = TenantRegistry({TENANT: TenantSettings(account=ACCOUNT, source=SOURCE)}, "us-east-1")
    sink = MemoryInput()
    settings = IngestSettings(port=0, max_body_bytes=16 << 20)
    default_slice = publisher.http.ingest.SLICE_ITEMS
    if decode == "whole":
        publisher.http.ingest.SLICE_ITEMS = 1 << 62
    ingest = Ingest(settings, sink, tenants, Metrics())
    await ingest.start()
    url = f"http://127.0.0.1:{ingest.port}/v1/events"
    command = [sys.executable, "-m", "bench.ingest_rate", "--client", url]
    command += [str(body_events), str(requests), str(concurrency)]
    try:
        sent = asyncio.Event()
        drained = asyncio.create_task(drain(sink, sent))
        with LoopLag() as lag:
            child = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
            out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"load generator failed ({child.returncode})")
        result = json.loads(out)
        sent.set()
        assert await drained == result["accepted"] == body_events * requests
    finally:
        await ingest.stop()
        publisher.http.ingest.SLICE_ITEMS = default_slice
    rate = result["accepted"] / result["elapsed_s"]
    run = {
        "scenario": name,
        "body_events": body_events,
        "body_bytes": result["body_bytes"],
        "concurrency": concurrency,
        "decode": decode,
        "events_per_s": round(rate),
        "requests_per_s": round(requests / result["elapsed_s"], 1),
        **lag.summary_ms(),
    }
    print(
        f"{name:28} {run['decode']:6} {rate:9,.0f} ev/s  {run['requests_per_s']:7.1f} req/s  "
        f"lag p99 {run['loop_lag_p99_ms']:6.1f} ms  max {run['loop_lag_max_ms']:6.1f} ms"
    )
    return run


async def main(quick: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    scale = 1 if quick else 3
    big_events = 1_048_576 // len(ndjson(0, 1))  # one NDJSON body of about 1 MiB
    runs = [
        await scenario("ndjson-500 c=1", 500, 100 * scale, 1),
        await scenario("ndjson-500 c=8", 500, 200 * scale, 8),
    ]
    for decode in ("sliced", "whole"):
        runs.append(await scenario("ndjson-1MiB c=4", big_events, 10 * scale, 4, decode))
    record = {
        "benchmark": "HTTP ingest POST /v1/events into MemoryInput (load generator in a child)",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "slice_items": publisher.http.ingest.SLICE_ITEMS,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "runs": runs,
    }
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(record)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    print(f"appended to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--client":
        url, events, count, concurrency = sys.argv[2], *map(int, sys.argv[3:])
        print(json.dumps(asyncio.run(client(url, events, count, concurrency))))
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--quick", action="store_true", help="a quarter of the requests")
        asyncio.run(main(parser.parse_args().quick))
