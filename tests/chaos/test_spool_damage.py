"""Rows 3-4: a spool that was truncated, replaced or damaged is refused, never trusted."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

from tests.chaos.harness import published_numbers, run_cli, start_expecting_exit
from tests.conftest import emulator_process
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    event_lines,
    set_faults,
    wait_until,
    write_config,
)

TOTAL = 2000


def stop_with_pending(config: Path, log: Path, url: str) -> None:
    """A daemon that accepts TOTAL events while nothing can be published, then stops."""
    proc = Daemon(config, log)
    proc.wait_ready()
    for start in range(0, TOTAL, 500):
        status, reply = proc.post(event_lines(range(start, start + 500)).encode())
        assert (status, reply["accepted"]) == (202, 500)
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert published_numbers(url) == {}


def pending_config(tmp_path: Path, url: str) -> Path:
    # Every call fails with 503 and is retried for ever: the events stay in the spool.
    return write_config(tmp_path, url, retry={"max_attempts": 1000}, publish={"linger_ms": 5})


def test_a_spool_truncated_while_events_were_pending_is_refused(tmp_path: Path) -> None:
    # Before: started with backlog 0 and /readyz 200; 2,000 events gone, nothing logged.
    with emulator_process(LENIENT, "--fault-503", "1.0") as url:
        config = pending_config(tmp_path, url)
        stop_with_pending(config, tmp_path / "first.log", url)
        spool = tmp_path / "spool.db"
        spool.write_bytes(b"")
        for suffix in ("-wal", "-shm"):
            Path(f"{spool}{suffix}").unlink(missing_ok=True)

        code, stderr = start_expecting_exit(config)
        assert code == 2
        assert "lost events" in stderr
        assert f"held {TOTAL} pending events" in stderr
        assert "--accept-empty-spool" in stderr
        # The same refusal at every start, and `spool check` says the same.
        assert start_expecting_exit(config)[0] == 2
        check = run_cli("spool", "check", "--config", str(config))
        assert check.returncode == 1
        assert "replaced or truncated" in json.loads(check.stdout)["problems"][0]

        accepted = Daemon(config, tmp_path / "accept.log", ["--accept-empty-spool"])
        try:
            accepted.wait_ready()
            assert '"event": "spool_loss_accepted"' in accepted.logs()
        finally:
            accepted.stop()


def test_garbage_in_the_spool_is_refused_then_salvaged_without_losing_readable_events(
    tmp_path: Path,
) -> None:
    # Before: started, /readyz 200 for minutes, old events stuck, new posts 202 never sent.
    with emulator_process(LENIENT, "--fault-503", "1.0") as url:
        config = pending_config(tmp_path, url)
        stop_with_pending(config, tmp_path / "first.log", url)
        spool = tmp_path / "spool.db"
        size = spool.stat().st_size
        with open(spool, "r+b") as handle:
            handle.seek(size // 2 // 4096 * 4096)
            handle.write(random.Random(16).randbytes(4096))  # the same garbage every run

        code, stderr = start_expecting_exit(config)
        assert code == 2
        assert f"the spool {spool} is damaged" in stderr
        assert "partner-publisher spool salvage" in stderr

        check = run_cli("spool", "check", "--config", str(config))
        assert check.returncode == 1
        assert not json.loads(check.stdout)["ok"]

        salvage = run_cli("spool", "salvage", "--config", str(config))
        assert salvage.returncode == 0, salvage.stderr
        report = json.loads(salvage.stdout)
        lost = sum(high - low + 1 for low, high in report["unreadable_ranges"])
        assert report["salvaged"] + lost == TOTAL
        assert report["salvaged"] > 0
        assert Path(report["damaged_copy"]).exists()  # the damaged file is kept
        assert run_cli("spool", "check", "--config", str(config)).returncode == 0

        set_faults(url, error_503_rate=0.0)
        with daemon(config, tmp_path / "after.log"):
            wait_until(
                lambda: sum(published_numbers(url).values()) >= report["salvaged"],
                60,
                "every salvaged event published",
            )
        published = published_numbers(url)
        assert len(published) == report["salvaged"]  # each salvaged event, once at least
