"""Daemon throughput from Redis Streams with 1 and 2 replicas; print it, append to results/.

For each replica count: a fresh redis-server and emulator (core 0), N `partner-publisher run`
processes on one stream and group (core 1, like the other daemon scenarios), then
`partner-publisher enqueue` puts the events; events/s = events / (enqueue start to the
emulator holding them all).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis

from bench import events
from bench.cpu import SERVER_CORE, pinned
from bench.procs import CLI, BenchError, Daemon, Emulator, child_env, free_port, stop_process
from bench.procs import write_config as write_daemon_config

RESULTS = Path(__file__).parent / "results" / "redis_rate.json"
STREAM = "partner-events"


def start_redis(port: int) -> subprocess.Popen[bytes]:
    command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(pinned(command, SERVER_CORE), stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return server
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise BenchError("redis-server did not start") from None
            time.sleep(0.05)


def measure(replicas: int, total: int, workdir: Path) -> dict[str, Any]:
    port = free_port()
    source = {
        "kind": "redis",
        "url": f"redis://127.0.0.1:{port}/0",
        "stream": STREAM,
        "group": "publisher",
    }
    with ExitStack() as stack:
        server = start_redis(port)
        stack.callback(stop_process, server, 10)
        emulator = stack.enter_context(Emulator(workdir))
        daemons = []
        for index in range(replicas):
            directory = workdir / f"r{replicas}-{index}"
            directory.mkdir(parents=True)
            path, config = write_daemon_config(
                directory,
                emulator.url,
                input={**source, "consumer": f"replica-{index}"},
                ingest={"enabled": False},
            )
            daemons.append(stack.enter_context(Daemon(directory, path, config)))
        lines = workdir / f"events-{replicas}.ndjson"
        events.write_ndjson(str(lines), total)
        started = time.time()
        subprocess.run(
            [*CLI, "enqueue", "--config", str(daemons[0].config_path), str(lines)],
            check=True,
            env=child_env(),
            stdout=subprocess.DEVNULL,
        )
        enqueued_s = time.time() - started
        assert daemons[0].proc is not None
        emulator.wait_for(total, max(120, total / 200), daemons[0].proc, daemons[0].dead_letters)
        elapsed = emulator.last_received_at(total) - started
        published = [d.metric("publisher_events_published_total") for d in daemons]
    return {
        "replicas": replicas,
        "events": total,
        "events_per_s": round(total / elapsed, 1),
        "elapsed_s": round(elapsed, 3),
        "enqueue_s": round(enqueued_s, 3),
        "published_per_replica": published,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="redis-rate-") as tmp:
        for replicas in args.replicas:
            run = measure(replicas, args.events, Path(tmp))
            print(json.dumps(run), flush=True)
            runs.append(run)
    record = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count()},
        "runs": runs,
    }
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(record)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")


if __name__ == "__main__":
    main()
