"""publisher.client against the real daemon: batching, rejections, 503 while the spool is
full, answers lost after the events were stored, a daemon restarted mid-publish. Every
event is published exactly once, counted at the emulator."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from publisher.client import AsyncClient, Client, PublishError, PublishResult
from tests.conftest import emulator_process, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    emulator_events,
    write_config,
)


def events(numbers: range, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}, **extra}
        for n in numbers
    ]


def cloudevents(numbers: range) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": f"ce-{n}",
            "source": "/shop",
            "type": "OrderCreated",
            "tenant": "acme",
            "data": {"n": n},
        }
        for n in numbers
    ]


def delivered_once(url: str, proc: Daemon, numbers: range) -> None:
    """Barrier: the spool is empty; then every number is at the emulator exactly once."""
    wait_until(lambda: len(emulator_events(url)) >= len(numbers), 30, "every event published")
    wait_until(lambda: proc.metric("publisher_backlog_events") == 0, 20, "an empty spool")
    counts = Counter(event["detail"]["n"] for event in emulator_events(url))
    assert counts == Counter(numbers)


def test_client_publishes_events_and_cloudevents_in_batches(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)) as proc:
        mixed = events(range(150)) + cloudevents(range(150, 200)) + events(range(1), tenant="x")
        with Client(proc.ingest_url, max_body_bytes=2048) as client:
            result = client.publish(mixed)
        assert len(result.accepted) == 200
        assert len(set(result.accepted)) == 200
        assert [(r.index, r.error) for r in result.rejected] == [
            (200, "tenant: unknown tenant 'x'")
        ]
        # Each body was at most 2 KiB: many requests, none refused.
        assert proc.metric('publisher_ingest_requests_total{code="202"}') > 10
        delivered_once(url, proc, range(200))


def test_bodies_over_the_server_limit_are_split(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url, ingest={"max_body_bytes": 4096})
        with daemon(config) as proc, Client(proc.ingest_url) as client:
            result = client.publish(events(range(300)))
            assert (len(result.accepted), result.rejected) == (300, [])
            assert proc.metric('publisher_ingest_requests_total{code="413"}') >= 1
            delivered_once(url, proc, range(300))


def test_a_full_spool_answers_503_and_the_client_waits_it_out(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--latency-ms", "150") as url:
        config = write_config(
            tmp_path,
            url,
            input={"max_events": 60},
            publish={"max_in_flight": 1, "linger_ms": 1, "max_entries": 10},
        )
        with daemon(config) as proc, Client(proc.ingest_url, max_body_bytes=4096) as client:
            result = client.publish(events(range(400)))
            assert (len(result.accepted), result.rejected) == (400, [])
            assert proc.metric('publisher_ingest_requests_total{code="503"}') > 0
            delivered_once(url, proc, range(400))


class LosingProxy:
    """Forwards POSTs to ingest; for the first `lose` of them it drops the connection after
    ingest answered, as a timeout or a broken network would: the events are stored, and the
    client never hears it."""

    def __init__(self, target: str, lose: int) -> None:
        self.lost = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = urllib.request.Request(
                    target + self.path, data=body, headers=dict(self.headers)
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, answer = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, answer = exc.code, exc.read()
                if proxy.lost < lose:
                    proxy.lost += 1
                    self.close_connection = True
                    return  # no answer at all
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[LosingProxy]:
        thread = threading.Thread(target=self.server.serve_forever, name="losing-proxy")
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join()


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_lost_answers_are_retried_and_stored_once(tmp_path: Path, flavour: str) -> None:
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)) as proc:
        with LosingProxy(proc.ingest_url, lose=3).running() as proxy:
            batch = events(range(100)) + cloudevents(range(100, 120))
            if flavour == "sync":
                with Client(proxy.url, max_body_bytes=4096, base_delay_s=0.01) as client:
                    result = client.publish(batch)
            else:
                result = asyncio.run(publish_async(proxy.url, batch))
            assert proxy.lost == 3
        assert (len(result.accepted), result.rejected) == (120, [])
        assert result.duplicates > 0  # the retries of the lost requests
        delivered_once(url, proc, range(120))


async def publish_async(url: str, batch: list[dict[str, Any]]) -> PublishResult:
    async with AsyncClient(url, max_body_bytes=4096, base_delay_s=0.01) as client:
        return await client.publish(batch)


def test_a_daemon_restarted_mid_publish_loses_and_repeats_nothing(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url)
        first = Daemon(config, tmp_path / "first.log")
        first.wait_ready()
        outcome: dict[str, Any] = {}

        def publish() -> None:
            with Client(first.ingest_url, max_body_bytes=2048, max_delay_s=1) as client:
                outcome["result"] = client.publish(events(range(3000)))

        publisher = threading.Thread(target=publish, name="client")
        publisher.start()
        wait_until(
            lambda: first.metric('publisher_ingest_events_total{outcome="accepted"}') > 300,
            20,
            "the client to be under way",
        )
        first.signal(signal.SIGTERM)
        assert first.wait(20) == 0
        with daemon(config, tmp_path / "second.log") as second:
            publisher.join(60)
            assert not publisher.is_alive()
            result: PublishResult = outcome["result"]
            assert (len(result.accepted), result.rejected) == (3000, [])
            # The restart came mid-publish: the second daemon took part of it.
            assert second.metric('publisher_ingest_requests_total{code="202"}') > 0
            delivered_once(url, second, range(3000))


def test_the_example_runs_and_a_second_run_is_all_duplicates(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "publish_events.py"
    with (
        emulator_process(LENIENT) as url,
        daemon(write_config(tmp_path, url, ingest={"token": "t0k"})) as proc,
    ):
        runs = [
            subprocess.run(
                [sys.executable, str(example), proc.ingest_url, "t0k"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            for _ in range(2)
        ]
        first, second = (json.loads(run.stdout.strip().splitlines()[-1]) for run in runs)
        assert first["accepted"] == ["ord-1001-created", "ord-1001-shipped"]
        assert (first["duplicates"], second["duplicates"]) == (0, 2)
        assert [r["index"] for r in first["rejected"]] == [2]
        wait_until(lambda: len(emulator_events(url)) >= 2, 10, "the example's events")
        wait_until(lambda: proc.metric("publisher_backlog_events") == 0, 10, "an empty spool")
        assert len(emulator_events(url)) == 2


def test_a_wrong_token_raises_and_stores_nothing(tmp_path: Path) -> None:
    with (
        emulator_process(LENIENT) as url,
        daemon(write_config(tmp_path, url, ingest={"token": "right"})) as proc,
    ):
        with (
            Client(proc.ingest_url, token="wrong") as client,
            pytest.raises(PublishError) as raised,
        ):
            client.publish(events(range(3)))
        assert raised.value.status == 401
        assert raised.value.result.accepted == []
        assert proc.metric("publisher_backlog_events") == 0
