"""Measure the spool's sustained put+fetch+ack rate; print it and append it to results/."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import structlog

from publisher.core.message import Message
from publisher.inputs.spool.db import Synchronous
from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings

RESULTS = Path(__file__).parent / "results" / "spool_rate.json"
# About the size of a typical event: a small order document.
BODY = json.dumps(
    {
        "tenant": "acme",
        "detail_type": "OrderCreated",
        "detail": {"order_id": "ord-000000", "total": 129.5, "items": [{"sku": "x" * 40}] * 3},
        "time": "2026-11-22T05:00:00Z",
    }
).encode()


async def measure(
    events: int, batch: int, synchronous: Synchronous, concurrent: bool, directory: Path
) -> float:
    """Put, fetch and ack `events` in batches; events/s from the first put to the last ack.

    serial: one producer, one consumer that awaits each ack before fetching again.
    concurrent: like the daemon, four producers (ingest requests) and a consumer that keeps
    fetching while up to eight acks (settled PutPartnerEvents calls) are in flight.
    """
    total = events // batch * batch
    settings = SpoolInputSettings(
        path=directory / f"spool-{batch}-{synchronous}-{concurrent}.db", max_events=10_000_000
    )
    spool = SpoolInput(settings, synchronous=synchronous, consumer=True)
    await spool.start()
    producers = 4 if concurrent else 1
    acks_in_flight = asyncio.Semaphore(8 if concurrent else 1)

    async def produce(share: int) -> None:
        for _ in range(share // batch):
            await spool.put([BODY] * batch)

    async def ack(messages: list[Message]) -> None:
        await spool.ack(messages)
        acks_in_flight.release()

    async def consume() -> None:
        done = 0
        acking: set[asyncio.Task[None]] = set()
        while done < total:
            await acks_in_flight.acquire()
            messages = await spool.fetch(batch, wait_s=1.0)
            task = asyncio.create_task(ack(messages), name="ack")
            acking.add(task)
            task.add_done_callback(acking.discard)
            done += len(messages)
        await asyncio.gather(*acking)

    started = time.perf_counter()
    await asyncio.gather(consume(), *(produce(total // producers) for _ in range(producers)))
    elapsed = time.perf_counter() - started
    assert await spool.backlog() == 0
    await spool.close()
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--synchronous", nargs="+", default=["NORMAL", "FULL"])
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for synchronous in args.synchronous:
            for mode, batch in itertools.product(("serial", "concurrent"), args.batches):
                concurrent = mode == "concurrent"
                rate = await measure(args.events, batch, synchronous, concurrent, Path(tmp))
                runs.append(
                    {
                        "synchronous": synchronous,
                        "mode": mode,
                        "batch": batch,
                        "events_per_s": round(rate),
                    }
                )
                print(f"synchronous={synchronous:6} {mode:10} batch={batch:3}  {rate:7,.0f} ev/s")
    record = {
        "benchmark": "spool put+fetch+ack (see measure() for the modes)",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "events": args.events,
        "body_bytes": len(BODY),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "runs": runs,
    }
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(record)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    print(f"appended to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
