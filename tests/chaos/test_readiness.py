"""Row 6: /readyz is asked live, names each failing check, and recovers with the part."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

from tests.chaos.harness import published_numbers, readyz, replace_section
from tests.conftest import RedisServer, emulator_process
from tests.e2e.processes import LENIENT, daemon, event_lines, wait_until, write_config


def test_readyz_follows_a_killed_redis_and_nothing_accepted_is_lost(tmp_path: Path) -> None:
    # Before: 200 {"input": true} while Redis was down: the check was set once at start.
    server = RedisServer(tmp_path / "redis").start()
    stream = f"chaos-{uuid.uuid4().hex}"
    try:
        with emulator_process(LENIENT) as url:
            config = replace_section(
                write_config(tmp_path, url),
                "input",
                {"kind": "redis", "url": server.url, "stream": stream, "group": "chaos"},
            )
            with daemon(config) as proc:
                assert readyz(proc) == (200, readyz(proc)[1])
                assert proc.post(event_lines(range(100)).encode())[0] == 202
                wait_until(lambda: len(published_numbers(url)) == 100, 20, "the first 100")

                server.kill()
                wait_until(lambda: readyz(proc)[0] == 503, 10, "/readyz to see Redis gone")
                ready = readyz(proc)[1]
                assert ready["checks"]["input"] is False
                assert "the input cannot be reached" in ready["failing"]["input"]
                assert ready["checks"]["aws"] is True  # only the broken part is named
                status, _ = proc.post(event_lines(range(100, 110)).encode())
                assert status == 503  # refused, nothing accepted into a black hole

                server.start()
                wait_until(lambda: readyz(proc)[0] == 200, 30, "/readyz to recover")
                assert proc.post(event_lines(range(100, 200)).encode())[0] == 202
                wait_until(
                    lambda: set(published_numbers(url)) == set(range(200)),
                    30,
                    "every accepted event",
                )
                assert proc.proc.poll() is None
    finally:
        server.kill()


def test_readyz_names_draining(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--latency-ms", "2000") as url:
        config = write_config(tmp_path, url, publish={"shutdown_grace_s": 10, "linger_ms": 1})
        with daemon(config) as proc:
            assert proc.post(event_lines([1]).encode())[0] == 202
            wait_until(lambda: proc.metric("publisher_in_flight_requests") > 0, 10, "a call")
            proc.signal(signal.SIGTERM)
            wait_until(lambda: readyz(proc)[0] == 503, 5, "/readyz to say draining")
            assert readyz(proc)[1]["checks"]["not_draining"] is False
