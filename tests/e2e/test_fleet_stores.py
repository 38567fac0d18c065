"""A fleet on Redis keeps dead letters and history in Redis: a replica killed and its directory
deleted loses neither, and any machine with the config can list, replay and trace."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import CLI, RedisServer, cli_env, emulator_process, run_cli, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    emulator_events,
    enqueue,
    kill_at_work,
    start_replicas,
)
from tests.e2e.test_redis_scale_out import redis_source

TOTAL = 1000
REJECT_RATE = "0.05"


def id_lines(numbers: range) -> str:
    return "".join(
        json.dumps({"tenant": "acme", "detail_type": "T", "detail": {"n": n}, "id": f"ev-{n}"})
        + "\n"
        for n in numbers
    )


def dead_letters(config: Path, cwd: Path) -> list[dict[str, Any]]:
    done = run_cli(
        "dlq", "list", "--config", str(config), "--output", "json", "--limit", "0", cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def trace(config: Path, event_id: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    done = run_cli("trace", "--config", str(config), event_id, "--output", "json", cwd=cwd)
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def test_a_killed_replicas_dead_letters_and_history_outlive_its_directory(
    tmp_path: Path,
) -> None:
    server = RedisServer().start()
    publish = {"max_in_flight": 2, "max_buffered_events": 100, "linger_ms": 5}
    replicas: list[Daemon] = []
    try:
        with emulator_process(
            LENIENT, "--latency-ms", "50", "--fault-entry", f"MalformedDetail={REJECT_RATE}"
        ) as url:
            sources = [redis_source(server, f"replica-{index}") for index in range(2)]
            start_replicas(replicas, tmp_path, url, sources, publish=publish)
            enqueue(replicas[0].config, id_lines(range(TOTAL)), tmp_path)

            kill_at_work(
                replicas[0],
                "publisher_events_dead_lettered_total",
                20,
                "the first replica to dead-letter something",
            )
            published_before_kill = len(emulator_events(url))
            shutil.rmtree(tmp_path / "replica-0")
            assert published_before_kill < TOTAL, "the kill came too late to prove anything"

            # A third machine: nothing but the config.
            elsewhere = tmp_path / "elsewhere"
            elsewhere.mkdir()
            config = elsewhere / "config.yaml"
            config.write_text(replicas[1].config.read_text())

            def settled() -> bool:
                published = {e["detail"]["n"] for e in emulator_events(url)}
                rejected = {r["event"]["detail"]["n"] for r in dead_letters(config, elsewhere)}
                return published | rejected == set(range(TOTAL))

            wait_until(settled, 60, "every event published or dead-lettered")
            wait_until(
                lambda: server.client().xlen("partner-events") == 0, 15, "the stream drained"
            )
            published_events = emulator_events(url)
            letters = dead_letters(config, elsewhere)
            # A drained daemon has written its last ledger batch (it flushes on the way out).
            replicas[1].signal(signal.SIGTERM)
            assert replicas[1].wait(30) == 0

        rejected = Counter(r["event"]["id"] for r in letters)
        published = Counter(e["detail"]["n"] for e in published_events)
        assert {r["reason"] for r in letters} == {"rejected"}
        assert {r["error_code"] for r in letters} == {"MalformedDetail"}
        assert set(rejected) >= {f"ev-{n}" for n in range(TOTAL) if n not in published}
        assert 10 < len(rejected) < 150  # about 5% of 1,000

        # A published event (after the kill: its replica lived to write the ledger).
        late = published_events[published_before_kill + 100 :]
        event = next(e for e in late if published[e["detail"]["n"]] == 1)
        event_id = f"ev-{event['detail']['n']}"
        code, found = trace(config, event_id, elsewhere)
        assert code == 0, found
        assert found["state"] == "published"
        assert found["aws_event_id"] == event["id"]  # the EventId the emulator returned
        assert (found["id"], found["tenant"], found["attempts"]) == (event_id, "acme", 1)
        assert found["received_at"]
        assert found["published_at"]

        # A dead-lettered one.
        letter = next(
            r
            for r in reversed(letters)
            if rejected[r["event"]["id"]] == 1 and r["event"]["detail"]["n"] not in published
        )
        code, found = trace(config, letter["event"]["id"], elsewhere)
        assert code == 0, found
        assert (found["state"], found["reason"]) == ("dead_lettered", "rejected")
        assert found["dead_letter_id"] == letter["dead_letter_id"]
        assert found["aws_event_id"] is None
        assert found["published_at"] is None

        code, found = trace(config, "ev-never-sent", elsewhere)
        assert (code, found["state"]) == (1, "unknown")

        # Two operators replay at once: every dead letter goes back exactly once.
        replays = [
            subprocess.Popen(
                [*CLI, "dlq", "replay", "--config", str(config), "--all"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(),
                cwd=elsewhere,
            )
            for _ in range(2)
        ]
        outputs = [proc.communicate(timeout=60) for proc in replays]
        assert [proc.returncode for proc in replays] == [0, 0], outputs
        client = server.client()
        entries = client.xrange("partner-events")
        client.close()
        replayed = Counter(json.loads(fields[b"event"])["id"] for _, fields in entries)
        assert replayed == Counter({r["event"]["id"]: 1 for r in letters})
        assert dead_letters(config, elsewhere) == []  # every one is marked replayed
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.stop()
        server.kill()
