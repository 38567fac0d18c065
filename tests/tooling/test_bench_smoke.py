"""Smoke test of the benchmark harness: a quick run of two scenarios into a temporary dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _quick_run(tmp_path: Path, *args: str, timeout_s: float = 90) -> None:
    """`python -m bench --quick --rounds 1 ARGS` into tmp_path; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--rounds", "1",
         "--results-dir", str(tmp_path), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_quick_run_records_both_scenarios_with_positive_figures(tmp_path: Path) -> None:
    _quick_run(tmp_path, "--only", "sdk_loop,send")
    dated = [p for p in tmp_path.glob("*.json") if p.name != "latest.json"]
    assert len(dated) == 1
    report = json.loads((tmp_path / "latest.json").read_text())
    assert set(report["scenarios"]) == {"sdk_loop", "send"}
    for name in ("sdk_loop", "send"):
        figures = report["scenarios"][name]
        assert figures["events"] == 5000, figures
        assert figures["events_per_s"] > 0, figures
        assert figures["cpu_ms_per_1k"] > 0, figures
    assert report["ratios"]["send_cpu_advantage"]["value"] > 0
    assert "| sdk_loop |" in (tmp_path / "latest.md").read_text()
    assert (tmp_path / "latest.png").stat().st_size > 0


def test_quick_daemon_quota_run_reports_offered_delivered_and_the_daemon_core(
    tmp_path: Path,
) -> None:
    _quick_run(tmp_path, "--only", "daemon_quota", "--quota-rate", "4000", timeout_s=120)
    report = json.loads((tmp_path / "latest.json").read_text())
    figures = report["scenarios"]["daemon_quota"]
    # 1 s of warm-up and a 3 s window at 4,000 events/s, every accepted event delivered.
    assert figures["offered_events_per_s"] == 4000, figures
    assert figures["events"] == 16000, figures
    assert figures["delivered_events_per_s"] > 0, figures
    assert 0 < figures["cpu_share"] <= 1.05, figures
    assert figures["backlog_end_events"] >= 0, figures
    assert figures["ingest_p99_ms"] > 0, figures
    assert isinstance(figures["carried"], bool)
    assert report["ratios"]["daemon_quota_carried"]["target"] == 0.98
    assert report["ratios"]["daemon_quota_carried"]["value"] > 0
    assert "## The default quota on one core" in (tmp_path / "latest.md").read_text()
