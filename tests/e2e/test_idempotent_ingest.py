"""Idempotent ingest with the daemon as a process: a batch posted three times (across a
restart, and through two replicas on one Redis) is published once."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import RedisServer, emulator_process, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    emulator_events,
    write_config,
)

TOTAL = 50


def batch() -> bytes:
    return json.dumps(
        [
            {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}, "id": f"ord-{n}"}
            for n in range(TOTAL)
        ]
    ).encode()


def post_batch(proc: Daemon) -> dict[str, Any]:
    status, answer = proc.post(batch(), "application/json")
    assert (status, answer["accepted"]) == (202, TOTAL), answer
    return dict(answer)


def published_once(url: str) -> None:
    """Every event of the batch at the emulator, each exactly once."""
    wait_until(lambda: len(emulator_events(url)) >= TOTAL, 20, "the batch at the emulator")
    counts = Counter(event["detail"]["n"] for event in emulator_events(url))
    assert counts == Counter(range(TOTAL))


def test_the_same_batch_three_times_across_a_restart_is_published_once(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url)
        first = Daemon(config, tmp_path / "first.log")
        first.wait_ready()
        assert post_batch(first)["duplicates"] == 0
        assert post_batch(first)["duplicates"] == TOTAL
        first.signal(signal.SIGTERM)
        assert first.wait(15) == 0
        with daemon(config, tmp_path / "second.log") as second:
            assert post_batch(second)["duplicates"] == TOTAL
            # The barrier: the spool is empty, so nothing stored is left to publish.
            wait_until(lambda: second.metric("publisher_backlog_events") == 0, 20, "an empty spool")
            published_once(url)
            assert second.metric('publisher_ingest_events_total{outcome="duplicate"}') == TOTAL


def redis_config(directory: Path, url: str, server: RedisServer, consumer: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = write_config(directory, url)
    config = yaml.safe_load(path.read_text())
    config["input"] = {
        "kind": "redis",
        "url": server.url,
        "stream": "partner-events",
        "group": "publisher",
        "consumer": consumer,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_two_replicas_behind_one_redis_dedupe_together(tmp_path: Path) -> None:
    server = RedisServer().start()
    try:
        with emulator_process(LENIENT) as url:
            configs = [redis_config(tmp_path / name, url, server, name) for name in ("one", "two")]
            with daemon(configs[0]) as one, daemon(configs[1]) as two:
                duplicates = [post_batch(proc)["duplicates"] for proc in (one, two, one)]
                assert duplicates == [0, TOTAL, TOTAL]
                client = server.client()
                try:
                    wait_until(
                        lambda: client.xlen("partner-events") == 0, 20, "the stream to be settled"
                    )
                finally:
                    client.close()
                published_once(url)
    finally:
        server.kill()
