"""Smoke test of the benchmark harness: a quick run of two scenarios into a temporary dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_run_records_both_scenarios_with_positive_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "sdk_loop,send", "--rounds", "1",
         "--results-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
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
