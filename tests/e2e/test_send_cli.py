"""`partner-publisher send` as a process against the emulator process."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections import Counter
from pathlib import Path

from tests.conftest import CLI, cli_env, emulator_process
from tests.e2e.processes import (
    LENIENT,
    emulator_events,
    event_lines,
    read_jsonl,
    set_faults,
    write_config,
)


def send(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--log-level", "warning", "send", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    last: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return last


def detail_numbers(url: str) -> Counter[int]:
    return Counter(event["detail"]["n"] for event in emulator_events(url))


def test_send_publishes_a_file_and_exits_zero(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url)
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(500)))
        result = send(config, str(events))
        assert result.returncode == 0, result.stderr
        assert summary(result)["published"] == 500
        assert summary(result)["dead_lettered"] == 0
        assert detail_numbers(url) == Counter(range(500))


def test_send_dead_letters_bad_lines_with_their_reason_and_exits_one(tmp_path: Path) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url)
        stdin = (
            event_lines(range(3))
            + "this is not json\n"
            + json.dumps({"tenant": "ghost", "detail_type": "T", "detail": {}})
            + "\n"
            + json.dumps({"tenant": "acme", "detail_type": "x" * 129, "detail": {}})
            + "\n"
        )
        result = send(config, "-", stdin=stdin)
        assert result.returncode == 1
        assert (summary(result)["published"], summary(result)["dead_lettered"]) == (3, 3)
        letters = read_jsonl(tmp_path / "dead-letters.jsonl")
        by_reason = {letter["reason"]: letter for letter in letters}
        assert set(by_reason) == {"invalid_json", "unknown_tenant", "invalid_event"}
        assert by_reason["invalid_json"]["event"] == "this is not json"
        assert "detail_type" in by_reason["invalid_event"]["error_message"]
        for letter in letters:
            assert {"first_received_at", "dead_lettered_at", "attempts", "error_code"} <= set(
                letter
            )
        assert detail_numbers(url) == Counter(range(3))


def test_send_exits_two_on_bad_config_or_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("publish: {max_entries: 50}\n")
    result = send(bad, "-", stdin="")
    assert result.returncode == 2
    assert "publish.max_entries" in result.stderr
    with emulator_process(LENIENT) as url:
        result = send(write_config(tmp_path, url), str(tmp_path / "missing.ndjson"))
        assert result.returncode == 2
        assert "no such file" in result.stderr


def test_every_valid_event_is_accepted_exactly_once_under_every_fault(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--seed", "11") as url:
        set_faults(
            url,
            entry_error_rates={"ThrottlingException": 0.1, "InternalFailure": 0.1},
            throttle_rate=0.05,
            error_500_rate=0.05,
            error_503_rate=0.05,
            drop_rate=0.05,
            latency_ms=2,
        )
        config = write_config(tmp_path, url)
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(2000)) + "not json\n")
        result = send(config, str(events))
        assert result.returncode == 1, result.stderr
        assert summary(result)["published"] == 2000
        assert detail_numbers(url) == Counter(range(2000))  # each once: nothing resent twice
        assert [letter["reason"] for letter in read_jsonl(tmp_path / "dead-letters.jsonl")] == [
            "invalid_json"
        ]


def test_permanent_entry_errors_are_dead_lettered_not_retried(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--seed", "5", "--fault-entry", "MalformedDetail=0.2") as url:
        config = write_config(tmp_path, url)
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(300)))
        result = send(config, str(events))
        assert result.returncode == 1
        letters = read_jsonl(tmp_path / "dead-letters.jsonl")
        published = detail_numbers(url)
        dead = Counter(letter["event"]["detail"]["n"] for letter in letters)
        assert {letter["reason"] for letter in letters} == {"rejected"}
        assert {letter["error_code"] for letter in letters} == {"MalformedDetail"}
        assert set(published).isdisjoint(dead)
        assert published + dead == Counter(range(300))
        assert 20 < len(letters) < 100


def test_connections_dropped_after_landing_give_bounded_duplicates(tmp_path: Path) -> None:
    with emulator_process(LENIENT, "--seed", "3", "--fault-drop-after", "0.1") as url:
        config = write_config(tmp_path, url)
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(400)))
        result = send(config, str(events))
        assert result.returncode == 0, result.stderr
        published = detail_numbers(url)
        assert set(published) == set(range(400))  # none lost
        duplicates = sum(published.values()) - 400
        assert 0 < duplicates <= 400 * 0.5  # at least once: the dropped calls landed twice


def test_progress_is_plain_lines_off_a_terminal_and_a_display_on_one(tmp_path: Path) -> None:
    # Latency keeps the send running long enough for several progress updates.
    with emulator_process(LENIENT, "--latency-ms", "200") as url:
        config = write_config(tmp_path, url, publish={"max_in_flight": 1})
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(100)))
        args = [*CLI, "--log-level", "warning", "send", str(events), "--config", str(config),
                "--progress-interval-s", "0.3"]  # fmt: skip
        piped = subprocess.run(args, capture_output=True, text=True, env=cli_env(), timeout=60)
        assert piped.returncode == 0, piped.stderr
        lines = [line for line in piped.stderr.splitlines() if line.startswith("send: ")]
        assert lines, piped.stderr
        assert "+" not in "".join(lines)
        assert "\r" not in piped.stderr
        assert all(" settled" in line and "events/s" in line for line in lines)

        controller, terminal = pty.openpty()
        with subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=terminal, env=cli_env(), text=True
        ) as proc:
            os.close(terminal)
            shown = _read_until_closed(controller)
            assert proc.wait(60) == 0
        assert "\r\x1b[K" in shown
        final = shown.rsplit("\r\x1b[K", 1)[1]
        assert "[####################] 100% 100/100 events" in final
        assert "ETA" in final


def _read_until_closed(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the pty's other end closed: the process exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")
