"""`partner-publisher run` as a process: ingest, publish, crash, drain, restart."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import cli_env, emulator_process, run_cli, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    emulator_events,
    event_lines,
    http_json,
    read_jsonl,
    set_faults,
    write_config,
)


def published_numbers(url: str) -> Counter[int]:
    return Counter(event["detail"]["n"] for event in emulator_events(url))


def test_posted_events_are_published_ndjson_and_array(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)) as proc:
        status, reply = proc.post(event_lines(range(50)).encode())
        assert (status, reply["accepted"], reply["rejected"]) == (202, 50, [])
        array = [
            {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": n}}
            for n in range(50, 60)
        ]
        status, reply = proc.post(json.dumps(array).encode(), "application/json")
        assert (status, reply["accepted"]) == (202, 10)
        wait_until(lambda: len(emulator_events(url)) >= 60, 15, "60 events at the emulator")
        assert published_numbers(url) == Counter(range(60))
        wait_until(
            lambda: proc.metric("publisher_events_published_total") == 60, 5, "metrics to agree"
        )
        assert proc.metric("publisher_event_delivery_seconds_count") == 60


def test_sigkill_mid_publish_loses_no_accepted_event(tmp_path: Path) -> None:
    max_in_flight = 4
    config = write_config(tmp_path, "", publish={"max_in_flight": max_in_flight, "linger_ms": 5})
    with emulator_process(LENIENT, "--latency-ms", "40") as url:
        config = write_config(
            tmp_path, url, publish={"max_in_flight": max_in_flight, "linger_ms": 5}
        )
        accepted = 0
        first = Daemon(config, tmp_path / "first.log")
        first.wait_ready()
        for start in range(0, 3000, 250):
            status, reply = first.post(event_lines(range(start, start + 250)).encode())
            assert status == 202
            accepted += reply["accepted"]
        wait_until(lambda: len(emulator_events(url)) > 400, 20, "publishing to be under way")
        first.signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        before_restart = len(emulator_events(url))
        assert before_restart < 3000, "the kill came too late to prove anything"

        with daemon(config, tmp_path / "second.log"):
            wait_until(
                lambda: set(published_numbers(url)) == set(range(3000)),
                60,
                "every accepted event after the restart",
            )
        published = published_numbers(url)
        assert accepted == 3000
        duplicates = sum(published.values()) - 3000
        # Only calls in flight (or being acknowledged) at the kill can be sent twice.
        assert duplicates <= max_in_flight * 20


def test_sigterm_drains_in_flight_calls_and_exits_zero(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--latency-ms", "300") as url:
        config = write_config(tmp_path, url, publish={"shutdown_grace_s": 5, "linger_ms": 5})
        proc = Daemon(config, tmp_path / "drain.log")
        proc.wait_ready()
        assert proc.post(event_lines(range(100)).encode())[0] == 202
        wait_until(lambda: proc.metric("publisher_in_flight_requests") > 0, 10, "calls in flight")
        started = time.monotonic()
        proc.signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 5 + 2
        logs = proc.logs()
        assert '"event": "daemon_draining"' in logs
        assert '"event": "daemon_stopped"' in logs
        drained = len(emulator_events(url))
        assert drained > 0
        # What was not published is still in the spool and goes out after a restart.
        with daemon(config, tmp_path / "after.log"):
            wait_until(
                lambda: set(published_numbers(url)) == set(range(100)), 20, "the rest published"
            )


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_either_event_loop_publishes_and_stops_on_sigterm(tmp_path: Path, event_loop: str) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url)
        settings = yaml.safe_load(config.read_text())
        settings["event_loop"] = event_loop
        config.write_text(yaml.safe_dump(settings))
        proc = Daemon(config, tmp_path / "loop.log")
        proc.wait_ready()
        assert proc.post(event_lines(range(40)).encode())[0] == 202
        wait_until(lambda: len(emulator_events(url)) == 40, 15, "40 events at the emulator")
        proc.signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        started = [e for e in read_jsonl(proc.log_path) if e.get("event") == "daemon_started"]
        assert [e["event_loop"] for e in started] == [event_loop]
        assert published_numbers(url) == Counter(range(40))


def test_second_signal_exits_at_once(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--latency-ms", "3000") as url:
        config = write_config(tmp_path, url, publish={"shutdown_grace_s": 30, "linger_ms": 1})
        with daemon(config, tmp_path / "twice.log") as proc:  # killed on the way out if it hangs
            assert proc.post(event_lines(range(5)).encode())[0] == 202
            wait_until(
                lambda: proc.metric("publisher_in_flight_requests") > 0, 10, "a call in flight"
            )
            proc.signal(signal.SIGTERM)
            wait_until(lambda: "daemon_draining" in proc.logs(), 5, "draining to start")
            proc.signal(signal.SIGTERM)
            assert proc.wait(5) == 130


def test_bad_requests_get_their_status_and_store_nothing(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(
            tmp_path,
            url,
            ingest={"max_body_bytes": 4096, "token": "s3cret"},
            input={"max_events": 5},
        )
        with daemon(config) as proc:
            auth = {"Authorization": "Bearer s3cret", "Content-Type": "application/x-ndjson"}
            post = proc.ingest_url + "/v1/events"
            assert http_json(post, event_lines([1]).encode(), {})[0] == 401
            assert (
                http_json(post, event_lines([1]).encode(), {"Authorization": "Bearer no"})[0] == 401
            )
            assert http_json(post, b"{not json", auth)[0] == 400
            bad = json.dumps({"tenant": "ghost", "detail_type": "T", "detail": {}}).encode()
            status, reply = http_json(post, bad, auth)
            assert status == 400
            assert "tenant" in json.dumps(reply)
            assert http_json(post, b"x" * 10_000, auth)[0] == 413
            assert http_json(post, event_lines(range(6)).encode(), auth)[0] == 503
            # The input is FIFO: once five later events are published, anything a refused
            # request had stored would have been published too.
            status, reply = http_json(post, event_lines(range(100, 105)).encode(), auth)
            assert (status, reply["accepted"]) == (202, 5)
            wait_until(lambda: len(emulator_events(url)) >= 5, 10, "the accepted events")
            assert published_numbers(url) == Counter(range(100, 105))
            assert proc.metric("publisher_events_received_total") == 5


def test_bad_config_exits_two_with_a_clear_message(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", ingest={"host": "0.0.0.0"})
    result = run_cli("run", "--config", str(config), timeout_s=30)
    assert result.returncode == 2
    assert "ingest.token is required" in result.stderr


def test_environment_overrides_reach_the_daemon(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    result = run_cli(
        "config",
        "check",
        "--config",
        str(config),
        timeout_s=30,
        env=cli_env(PUBLISHER__PUBLISH__LINGER_MS="75", PUBLISHER__INGEST__TOKEN="hidden"),
    )
    assert result.returncode == 0, result.stderr
    assert "linger_ms: 75" in result.stdout
    assert "hidden" not in result.stdout
    assert "token: '***'" in result.stdout


def test_dead_letters_can_be_replayed_and_keep_their_id(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url)
        with daemon(config) as proc:
            set_faults(url, entry_error_rates={"AccessDeniedException": 1.0})
            body = json.dumps(
                {"tenant": "acme", "detail_type": "T", "detail": {"n": 7}, "id": "ord-7"}
            )
            assert proc.post(body.encode())[0] == 202
            wait_until(
                lambda: len(read_jsonl(tmp_path / "dead-letters.jsonl")) == 1, 10, "a dead letter"
            )
            [letter] = read_jsonl(tmp_path / "dead-letters.jsonl")
            assert (letter["reason"], letter["error_code"]) == ("rejected", "AccessDeniedException")
            set_faults(url, entry_error_rates={})

            listing = run_cli(
                "dlq", "list", "--config", str(config), "--output", "json", timeout_s=30
            )
            assert json.loads(listing.stdout)["dead_letter_id"] == letter["dead_letter_id"]
            replay = run_cli(
                "dlq", "replay", "--config", str(config), "--reason", "rejected", timeout_s=30
            )
            assert replay.returncode == 0, replay.stderr
            wait_until(lambda: len(emulator_events(url)) == 1, 15, "the replayed event")
            assert emulator_events(url)[0]["detail"] == {"n": 7}
        again = run_cli(
            "dlq", "replay", "--config", str(config), "--all", "--dry-run", timeout_s=30
        )
        assert "would replay 0" in again.stdout


def test_a_second_daemon_on_the_same_spool_refuses_to_start(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)):
        other = write_config(tmp_path, url)  # same spool path, fresh ports
        result = run_cli("run", "--config", str(other), timeout_s=30)
        assert result.returncode == 1
        assert "already publishing from the spool" in result.stderr
