"""Row 9: SIGHUP while tenants_file is being rewritten keeps the tenants it had."""

from __future__ import annotations

import signal
from pathlib import Path

import yaml

from tests.chaos.harness import count_lines, published_numbers, replace_section
from tests.conftest import emulator_process
from tests.e2e.processes import (
    ACCOUNT,
    LENIENT,
    SOURCE,
    Daemon,
    event_lines,
    read_jsonl,
    set_faults,
    wait_until,
    write_config,
)

TOTAL = 1000
TENANTS = {"acme": {"account": ACCOUNT, "source": SOURCE}}


def test_an_empty_or_cut_short_tenants_file_on_sighup_changes_nothing(tmp_path: Path) -> None:
    # Before: `tenants_reloaded` was logged and 760 of 1,000 pending events were
    # dead-lettered as unknown_tenant within 2 s.
    tenants_file = tmp_path / "tenants.yaml"
    tenants_file.write_text(yaml.safe_dump(TENANTS))
    with emulator_process(LENIENT) as url:
        config = replace_section(write_config(tmp_path, url), "tenants", {})
        data = yaml.safe_load(config.read_text())
        data["tenants_file"] = str(tenants_file)
        data["retry"]["max_attempts"] = 1000
        config.write_text(yaml.safe_dump(data))
        proc = Daemon(config, tmp_path / "daemon.log")
        try:
            proc.wait_ready()
            set_faults(url, error_503_rate=1.0)  # the events stay pending through the reloads
            assert proc.post(event_lines(range(TOTAL)).encode())[0] == 202

            tenants_file.write_text("")  # a non-atomic rewrite, caught in the middle
            proc.signal(signal.SIGHUP)
            wait_until(lambda: count_lines(proc.logs(), "tenants_reload_failed") == 1, 10, "1st")
            tenants_file.write_text(yaml.safe_dump(TENANTS)[:-12])  # cut short
            proc.signal(signal.SIGHUP)
            wait_until(lambda: count_lines(proc.logs(), "tenants_reload_failed") == 2, 10, "2nd")
            assert "is empty" in proc.logs()
            assert "cut short" in proc.logs()
            assert count_lines(proc.logs(), "tenants_reloaded") == 0

            set_faults(url, error_503_rate=0.0)
            wait_until(
                lambda: set(published_numbers(url)) == set(range(TOTAL)),
                30,
                "every pending event published under the old tenants",
            )
            assert read_jsonl(tmp_path / "dead-letters.jsonl") == []

            tenants_file.write_text(yaml.safe_dump(TENANTS))  # the rewrite completes
            proc.signal(signal.SIGHUP)
            wait_until(lambda: count_lines(proc.logs(), "tenants_reloaded") == 1, 10, "reload")
            assert proc.proc.poll() is None
        finally:
            proc.stop()
