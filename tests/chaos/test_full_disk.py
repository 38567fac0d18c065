"""Row 5 (and row 6's full disk): acks that cannot be written do not republish the backlog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.chaos.harness import kept_full, published_numbers, readyz, small_filesystem
from tests.conftest import emulator_process
from tests.e2e.processes import (
    LENIENT,
    daemon,
    event_lines,
    set_faults,
    wait_until,
    write_config,
)

TOTAL = 550
MAX_IN_FLIGHT = 4
BOUND = MAX_IN_FLIGHT * 20


def test_a_full_disk_holds_the_backlog_without_republishing_it(tmp_path: Path) -> None:
    # Before: acks failed and the whole backlog was published again every visibility
    # timeout (550 events became 920 deliveries within 5 s here); /readyz 200 throughout.
    with small_filesystem(tmp_path / "spool", "2m") as spool_dir, emulator_process(LENIENT) as url:
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
            seen: list[dict[str, Any]] = []

            def observe() -> bool:
                """Record what the daemon says and has sent; done after several failed acks
                (each retry waits longer than the last, so several visibility timeouts)."""
                published = published_numbers(url)
                status, ready = readyz(proc)
                pending = proc.metric("publisher_acks_pending")
                seen.append(
                    {"deliveries": sum(published.values()), "unique": len(published)}
                    | {"status": status, "ready": ready, "acks_pending": pending}
                )
                return proc.metric("publisher_ack_failures_total") >= 4 or len(published) == TOTAL

            with kept_full(spool_dir):
                set_faults(url, error_503_rate=0.0)
                wait_until(
                    lambda: proc.metric("publisher_ack_failures_total") >= 1, 30, "acks to fail"
                )
                wait_until(observe, 60, "acks to fail for a while", interval_s=0.2)
                # Settled events are not handed out again while their acks wait...
                assert all(sample["deliveries"] == sample["unique"] for sample in seen)
                # ...what waits is bounded by what was in flight...
                assert max(sample["acks_pending"] for sample in seen) <= BOUND
                # ...and /readyz said why whenever acks were waiting.
                waiting = [sample for sample in seen if sample["acks_pending"] > 0]
                assert waiting
                for sample in waiting[1:]:  # the first may race the failure it reports
                    assert sample["status"] == 503
                    reason = sample["ready"]["failing"]["input_writable"]
                    assert "acknowledgements cannot be stored" in reason
                # A post is refused (503), or stored where SQLite still had room: either way
                # not accepted into a black hole (it is published below).
                status, _ = proc.post(event_lines([TOTAL]).encode())
                assert status in (202, 503)
                expected = set(range(TOTAL + 1 if status == 202 else TOTAL))
                assert proc.proc.poll() is None

            wait_until(
                lambda: set(published_numbers(url)) == expected,
                60,
                "the backlog published once there is room",
            )
            wait_until(lambda: readyz(proc)[0] == 200, 15, "/readyz to recover")
        duplicates = sum(published_numbers(url).values()) - len(expected)
        assert duplicates <= BOUND
