"""Row 5 (and row 6's full disk): acks that cannot be written do not republish the backlog."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.harness import fill_disk, published_numbers, readyz, small_filesystem
from tests.e2e.processes import daemon, emulator, event_lines, set_faults, wait_until, write_config

TOTAL = 550
MAX_IN_FLIGHT = 4


def test_a_full_disk_holds_the_backlog_without_republishing_it(tmp_path: Path) -> None:
    # Before: acks failed and the whole backlog was published again every visibility
    # timeout (550 events became 2,200 deliveries in 3 minutes); /readyz 200 throughout.
    with small_filesystem(tmp_path / "spool", "2m") as spool_dir, emulator() as url:
        config = write_config(
            tmp_path,
            url,
            input={"kind": "spool", "path": str(spool_dir / "spool.db"), "visibility_timeout_s": 1},
            publish={"max_in_flight": MAX_IN_FLIGHT, "linger_ms": 5},
            retry={"max_attempts": 1000},
        )
        with daemon(config) as proc:
            set_faults(url, error_503_rate=1.0)  # nothing is published until the disk is full
            for start in range(0, TOTAL, 110):
                status, _ = proc.post(event_lines(range(start, start + 110)).encode())
                assert status == 202
            filler = fill_disk(spool_dir)
            set_faults(url, error_503_rate=0.0)
            wait_until(lambda: proc.metric("publisher_ack_failures_total") >= 1, 30, "acks to fail")
            wait_until(lambda: readyz(proc)[0] == 503, 10, "/readyz to say so")
            ready = readyz(proc)[1]
            assert ready["checks"]["input_writable"] is False
            assert "acknowledgements cannot be stored" in ready["failing"]["input_writable"]
            # Several visibility timeouts (1 s) and ack retries pass while the disk stays full.
            wait_until(lambda: proc.metric("publisher_ack_failures_total") >= 5, 60, "ack retries")
            while_full = sum(published_numbers(url).values())
            assert while_full - len(published_numbers(url)) == 0  # nothing published twice
            assert while_full <= MAX_IN_FLIGHT * 20 + 20  # sending paused too
            status, _ = proc.post(event_lines([TOTAL]).encode())
            assert status == 503  # no room: refused, not accepted into a black hole
            assert proc.proc.poll() is None

            filler.unlink()
            wait_until(
                lambda: set(published_numbers(url)) == set(range(TOTAL)),
                60,
                "the backlog published once there is room",
            )
            wait_until(lambda: readyz(proc)[0] == 200, 15, "/readyz to recover")
        published = published_numbers(url)
        duplicates = sum(published.values()) - TOTAL
        assert duplicates <= MAX_IN_FLIGHT * 20
