"""Load generators for the daemon's HTTP ingest, run as child processes.

`flood`: POST N events in NDJSON bodies of 500 as fast as the daemon accepts them (a 503
is retried), a few requests in flight. `paced`: a fixed offered load, a body of B events
every B/rate seconds on an absolute schedule, each event carrying its send wall time in
`detail.sent_at`. `steady`: one body of B events, offered again every B/rate seconds for a
warm-up and a measured window (open loop: a late answer does not delay the next body); it
prints the wall time its schedule starts on a line of its own first, so that the harness
can sample the daemon and the emulator at the window's edges. Each mode ends by printing one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import orjson

from bench import events

FLOOD_BODY_EVENTS = 500
FLOOD_IN_FLIGHT = 4
STEADY_BODY_EVENTS = 1000
EDGE_SLACK_S = 1e-6
RETRY_SLEEP_S = 0.005
HEADERS = {"Content-Type": "application/x-ndjson"}


class Poster:
    """POSTs bodies to ingest, retrying while the daemon answers 503 (full)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url
        self.retries_503 = 0
        self.posts = 0

    async def post(self, body: bytes, count: int) -> None:
        while True:
            async with self._session.post(self._url, data=body, headers=HEADERS) as response:
                payload = await response.read()
                if response.status == 503:
                    self.retries_503 += 1
                    await asyncio.sleep(RETRY_SLEEP_S)
                    continue
                if response.status != 202:
                    raise RuntimeError(f"ingest answered {response.status}: {payload[:200]!r}")
                accepted = orjson.loads(payload)["accepted"]
                if accepted != count:
                    raise RuntimeError(f"ingest accepted {accepted} of {count}")
                self.posts += 1
                return


async def flood(url: str, total: int, body_events: int = FLOOD_BODY_EVENTS) -> dict[str, float]:
    bodies = [
        (events.ndjson(start, count), count) for start, count in events.batches(total, body_events)
    ]
    queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    async with aiohttp.ClientSession() as session:
        poster = Poster(session, url)

        async def worker() -> None:
            while not queue.empty():
                await poster.post(*queue.get_nowait())

        cpu0, first_post_at = _cpu_s(), time.time()
        await asyncio.gather(*(worker() for _ in range(FLOOD_IN_FLIGHT)))
        return {
            "first_post_at": first_post_at,
            "last_accepted_at": time.time(),
            "posts": poster.posts,
            "retries_503": poster.retries_503,
            "loop_cpu_s": _cpu_s() - cpu0,
        }


async def paced(url: str, rate: float, body_events: int, duration_s: float) -> dict[str, float]:
    interval = body_events / rate
    ticks = int(duration_s / interval)
    async with aiohttp.ClientSession() as session:
        poster = Poster(session, url)
        pending: set[asyncio.Task[None]] = set()
        max_lag = 0.0
        started = time.perf_counter()
        for tick in range(ticks):
            delay = started + tick * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            max_lag = max(max_lag, -delay)
            body = events.timed_ndjson(tick * body_events, body_events)
            task = asyncio.create_task(poster.post(body, body_events))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    return {
        "sent": ticks * body_events,
        "offered_events_per_s": ticks * body_events / elapsed,
        "posts": poster.posts,
        "retries_503": poster.retries_503,
        "max_schedule_lag_ms": max_lag * 1000,
    }


@dataclass(frozen=True, slots=True)
class Post:
    """One body of `steady`: when it was due, when its POST started and when the 202 came."""

    due: float
    started: float
    done: float


async def steady(
    url: str, rate: float, body_events: int, warmup_s: float, duration_s: float
) -> dict[str, object]:
    # Events carry no id, so the same body may be posted again: each post stores new events.
    body = events.ndjson(0, body_events)
    interval = body_events / rate
    ticks = round((warmup_s + duration_s) / interval)
    posts: list[Post] = []
    async with aiohttp.ClientSession() as session:
        poster = Poster(session, url)

        async def post(due: float) -> None:
            started = time.time()
            await poster.post(body, body_events)
            posts.append(Post(due, started, time.time()))

        pending: set[asyncio.Task[None]] = set()
        max_lag, cpu0, begin = 0.0, _cpu_s(), time.time()
        sys.stdout.write(orjson.dumps({"started_at": begin}).decode() + "\n")
        sys.stdout.flush()
        for tick in range(ticks):
            due = begin + tick * interval
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            max_lag = max(max_lag, -delay)
            task = asyncio.create_task(post(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        cpu_s, wall_s = _cpu_s() - cpu0, time.time() - begin
    window = (begin + warmup_s, begin + warmup_s + duration_s)
    return {
        "started_at": begin,
        "window": window,
        "accepted": len(posts) * body_events,
        **_window_figures(posts, window, body_events),
        "retries_503": poster.retries_503,
        "max_schedule_lag_ms": max_lag * 1000,
        "cpu_share": cpu_s / wall_s,
    }


def _window_figures(
    posts: list[Post], window: tuple[float, float], body_events: int
) -> dict[str, float]:
    """Events due and accepted within the window; ingest latency (POST to 202) of its bodies."""
    # A body due exactly on an edge belongs to the window it opens, whatever the rounding.
    start, end = window[0] - EDGE_SLACK_S, window[1] - EDGE_SLACK_S
    due = [p for p in posts if start <= p.due < end]
    latencies = sorted((p.done - p.started) * 1000 for p in due)
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return {
        "offered_in_window": len(due) * body_events,
        "accepted_in_window": sum(body_events for p in posts if start <= p.done < end),
        "ingest_p50_ms": statistics.median(latencies) if latencies else 0.0,
        "ingest_p99_ms": q[98] if q else (latencies[-1] if latencies else 0.0),
        "ingest_max_ms": latencies[-1] if latencies else 0.0,
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["flood", "paced", "steady"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument(
        "--body-events", type=int, help=f"events per body (flood {FLOOD_BODY_EVENTS}, paced 50)"
    )
    parser.add_argument("--duration-s", type=float, default=10)
    parser.add_argument("--warmup-s", type=float, default=2, help="steady: before the window")
    args = parser.parse_args()
    result: Mapping[str, object]
    if args.mode == "flood":
        result = asyncio.run(flood(args.url, args.events, args.body_events or FLOOD_BODY_EVENTS))
    elif args.mode == "steady":
        body_events = args.body_events or STEADY_BODY_EVENTS
        result = asyncio.run(
            steady(args.url, args.rate, body_events, args.warmup_s, args.duration_s)
        )
    else:
        body_events = args.body_events or 50
        result = asyncio.run(paced(args.url, args.rate, body_events, args.duration_s))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
