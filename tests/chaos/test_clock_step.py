"""Row 10: a wall clock stepped forward a day does not dead-letter the pending backlog."""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.chaos.harness import published_numbers
from tests.conftest import emulator_process
from tests.e2e.processes import (
    CLI,
    LENIENT,
    Daemon,
    cli_env,
    event_lines,
    read_jsonl,
    set_faults,
    wait_until,
    write_config,
)

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
TOTAL = 100


class SteppedDaemon(Daemon):
    """The daemon under libfaketime: its wall clock is offset by what `offset_file` says."""

    def __init__(self, config: Path, log_path: Path, offset_file: Path) -> None:
        offset_file.write_text("+0\n")
        super().__init__(config, log_path)
        self.proc.kill()
        self.proc.wait()
        env = cli_env(
            LD_PRELOAD=str(LIBFAKETIME),
            FAKETIME_TIMESTAMP_FILE=str(offset_file),
            FAKETIME_CACHE_DURATION="1",  # re-read the offset every second
            FAKETIME_DONT_FAKE_MONOTONIC="1",  # only the wall clock steps, as with NTP or a VM
        )
        self.proc = subprocess.Popen(
            [*CLI, "run", "--config", str(config)], stdout=self._log, stderr=self._log, env=env
        )


def test_a_day_long_clock_step_leaves_the_backlog_alone(tmp_path: Path) -> None:
    # Before: 99 of 100 pending events were dead-lettered as too_old.
    if not LIBFAKETIME.exists() or shutil.which("faketime") is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime; .ci/services.sh)")
    offset_file = tmp_path / "faketime"
    with emulator_process(LENIENT, "--fault-503", "1.0") as url:
        config = write_config(
            tmp_path, url, retry={"max_attempts": 1000, "max_age_s": 86_400, "max_delay_ms": 200}
        )
        proc = SteppedDaemon(config, tmp_path / "daemon.log", offset_file)
        try:
            proc.wait_ready()
            assert proc.post(event_lines(range(TOTAL)).encode())[0] == 202
            wait_until(lambda: proc.metric("publisher_events_retried_total") > 0, 10, "retries")

            offset_file.write_text("+25h\n")
            tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=25)
            stamp = f'"timestamp": "{tomorrow:%Y-%m-%dT%H}'
            wait_until(lambda: stamp in proc.logs(), 15, "the daemon's clock to step")

            set_faults(url, error_503_rate=0.0)
            wait_until(
                lambda: set(published_numbers(url)) == set(range(TOTAL)),
                30,
                "every pending event published",
            )
            assert read_jsonl(tmp_path / "dead-letters.jsonl") == []
        finally:
            proc.stop()
