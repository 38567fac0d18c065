"""Rows 1-2: a dead letter can always be written, and a store that fails loses nothing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.chaos.harness import (
    dead_lettered_numbers,
    fill_disk,
    metrics_text,
    readyz,
    small_filesystem,
    start_expecting_exit,
)
from tests.conftest import emulator_process
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    event_lines,
    read_jsonl,
    set_faults,
    wait_until,
    write_config,
)


def nested(depth: int) -> dict[str, object]:
    detail: dict[str, object] = {"leaf": 1}
    for _ in range(depth - 1):
        detail = {"a": detail}
    return detail


def test_a_deeply_nested_event_is_dead_lettered_as_raw_text_and_the_daemon_lives(
    tmp_path: Path,
) -> None:
    # Before: orjson raised "Recursion limit reached" in the writer; the daemon exited 1 and
    # died again on the same row at every restart.
    event = {"tenant": "acme", "detail_type": "Deep", "detail": nested(400), "id": "deep-1"}
    body = json.dumps(event, separators=(",", ":")).encode()
    with emulator_process(LENIENT) as url:
        set_faults(url, entry_error_rates={"MalformedDetail": 1.0})
        config = write_config(tmp_path, url)
        with daemon(config) as proc:
            status, reply = proc.post(body + b"\n")
            assert (status, reply["accepted"]) == (202, 1)
            letters = tmp_path / "dead-letters.jsonl"
            wait_until(lambda: len(read_jsonl(letters)) == 1, 20, "the dead letter")
            record = read_jsonl(letters)[0]
            assert record["reason"] == "rejected"
            assert record["error_code"] == "MalformedDetail"
            assert json.loads(record["event"]) == event  # the raw text, replayable as it was
            assert proc.proc.poll() is None
            assert readyz(proc)[0] == 200
            proc.signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        with daemon(config, tmp_path / "again.log") as again:  # no crash loop after a restart
            assert readyz(again)[0] == 200
            assert len(read_jsonl(letters)) == 1


def test_an_unwritable_store_at_start_is_refused_with_its_name(tmp_path: Path) -> None:
    # Before: started normally; the first dead letter exited 1, and every restart the same.
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url, dead_letter={"path": "/dev/full"})
        code, stderr = start_expecting_exit(config)
    assert code == 2
    assert "dead_letter.path /dev/full" in stderr
    assert "not a regular file" in stderr


def test_a_store_that_fills_up_keeps_the_events_and_says_so_until_it_has_room(
    tmp_path: Path,
) -> None:
    total = 200
    with (
        small_filesystem(tmp_path / "letters", "1m") as letters_dir,
        emulator_process(LENIENT) as url,
    ):
        letters = letters_dir / "dead-letters.jsonl"
        config = write_config(
            tmp_path, url, dead_letter={"path": str(letters)}, retry={"max_attempts": 1}
        )
        with daemon(config) as proc:
            filler = fill_disk(letters_dir)
            set_faults(url, entry_error_rates={"AccessDeniedException": 1.0})
            status, reply = proc.post(event_lines(range(total)).encode())
            assert (status, reply["accepted"]) == (202, total)
            wait_until(lambda: readyz(proc)[0] == 503, 20, "/readyz to report the store")
            status, ready = readyz(proc)
            assert ready["checks"]["dead_letters"] is False
            assert "cannot be written" in ready["failing"]["dead_letters"]
            assert "No space left on device" in ready["failing"]["dead_letters"]
            assert "publisher_dead_letter_write_failures_total" in metrics_text(proc)
            wait_until(
                lambda: proc.metric("publisher_dead_letter_write_failures_total") >= 2,
                20,
                "the write to be retried",
            )
            assert '"event": "dead_letter_write_failed"' in proc.logs()
            assert proc.proc.poll() is None  # alive, not crash-looping
            assert proc.metric("publisher_events_dead_lettered_total") == 0  # nothing acked

            filler.unlink()  # room again: the retries land
            wait_until(
                lambda: sum(dead_lettered_numbers(letters).values()) == total,
                30,
                "every event in the store",
            )
            wait_until(lambda: readyz(proc)[0] == 200, 10, "/readyz to recover")
        assert dead_lettered_numbers(letters) == {n: 1 for n in range(total)}


def test_a_dead_letter_store_error_does_not_stop_a_restart_from_delivering(
    tmp_path: Path,
) -> None:
    # The events whose dead letters could not be written are still in the spool after a
    # SIGKILL: the next daemon (with room) dead-letters them, none lost.
    total = 50
    with (
        small_filesystem(tmp_path / "letters", "1m") as letters_dir,
        emulator_process(LENIENT) as url,
    ):
        letters = letters_dir / "dead-letters.jsonl"
        config = write_config(
            tmp_path, url, dead_letter={"path": str(letters)}, retry={"max_attempts": 1}
        )
        first = Daemon(config, tmp_path / "first.log")
        first.wait_ready()
        filler = fill_disk(letters_dir)
        set_faults(url, entry_error_rates={"AccessDeniedException": 1.0})
        assert first.post(event_lines(range(total)).encode())[0] == 202
        wait_until(
            lambda: first.metric("publisher_dead_letter_write_failures_total") >= 1,
            20,
            "a failed write",
        )
        first.signal(signal.SIGKILL)
        first.wait(10)
        filler.unlink()
        with daemon(config, tmp_path / "second.log"):
            wait_until(
                lambda: set(dead_lettered_numbers(letters)) == set(range(total)),
                30,
                "every event dead-lettered after the restart",
            )
