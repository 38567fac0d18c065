"""Direct PutPartnerEvents clients, run as child processes: the SDK ceiling, the HTTP floor.

`python -m bench.clients sdk|http --url URL --events N` sends N events in 20-entry calls,
32 in flight, and prints one JSON line: events, elapsed_s, events_per_s, loop_cpu_s, failed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Awaitable, Callable

import orjson

from bench import events

BATCH = 20
IN_FLIGHT = 32
TARGET = "AWSEvents.PutPartnerEvents"
# The emulator without a secret only checks the header's shape and scope, never the signature.
FAKE_SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/events/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)

Put = Callable[[list[dict[str, object]]], Awaitable[int]]


async def drive(put: Put, total: int) -> dict[str, float]:
    """Send `total` events through `put` (returns failed entries), IN_FLIGHT calls at once."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    failed = 0

    async def one(start: int, count: int) -> None:
        nonlocal failed
        try:
            failed += await put([events.entry(n) for n in range(start, start + count)])
        finally:
            slots.release()

    cpu0, started = _cpu_s(), time.perf_counter()
    tasks = set()
    for start, count in events.batches(total, BATCH):
        await slots.acquire()
        task = asyncio.create_task(one(start, count))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {
        "events": total,
        "elapsed_s": elapsed,
        "events_per_s": total / elapsed,
        "loop_cpu_s": _cpu_s() - cpu0,
        "failed": failed,
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_sdk(url: str, total: int) -> dict[str, float]:
    """A plain aiobotocore loop with the SDK's own retries off."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=IN_FLIGHT)
    session = get_session()
    async with session.create_client(
        "events",
        region_name=events.REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as client:

        async def put(entries: list[dict[str, object]]) -> int:
            response = await client.put_partner_events(Entries=entries)
            return int(response["FailedEntryCount"])

        return await drive(put, total)


async def run_http(url: str, total: int) -> dict[str, float]:
    """The same JSON 1.1 requests over plain aiohttp, unsigned (a fixed fake SigV4 header)."""
    import aiohttp

    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": TARGET,
        "X-Amz-Date": "20260101T000000Z",
        "Authorization": FAKE_SIGV4,
    }
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def put(entries: list[dict[str, object]]) -> int:
            async with session.post(url, data=orjson.dumps({"Entries": entries})) as response:
                body = orjson.loads(await response.read())
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {body}")
                return int(body["FailedEntryCount"])

        return await drive(put, total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("client", choices=["sdk", "http"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, required=True)
    args = parser.parse_args()
    runner = run_sdk if args.client == "sdk" else run_http
    result = asyncio.run(runner(args.url, args.events))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
