"""The recorded results: JSON (everything), Markdown (the table) and a PNG bar chart."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

Report = dict[str, Any]
NA = "-"
REPO = Path(__file__).resolve().parent.parent
THROUGHPUT_COLUMNS = (
    ("events/s", "events_per_s", "{:,.0f}"),
    ("CPU-ms / 1k events", "cpu_ms_per_1k", "{:,.1f}"),
    ("CPU-ms / 1k, start-up excluded", "steady_cpu_ms_per_1k", "{:,.1f}"),
    ("start-up CPU-s", "startup_cpu_s", "{:.3f}"),
    ("p50 ms", "p50_ms", "{:,.1f}"),
    ("p99 ms", "p99_ms", "{:,.1f}"),
    ("emulator core busy", "emulator_busy", "{:.0%}"),
)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain") else "")


def write_all(report: Report, results_dir: Path, date: str) -> list[Path]:
    """<date>.json, .md and .png in results_dir, each copied to latest.*; the paths written."""
    results_dir.mkdir(parents=True, exist_ok=True)
    written = [results_dir / f"{date}.json", results_dir / f"{date}.md"]
    written[0].write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    written[1].write_text(markdown(report, f"{date}.png"))
    chart = results_dir / f"{date}.png"
    if write_chart(report, chart):
        written.append(chart)
    for path in written:
        shutil.copyfile(path, results_dir / f"latest{path.suffix}")
    # latest.md shows latest.png, not the dated one.
    (results_dir / "latest.md").write_text(markdown(report, "latest.png"))
    return written


def _cell(value: object, fmt: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NA
    return fmt.format(value)


def markdown(report: Report, chart_name: str) -> str:
    """The human-readable record: where and how it ran, the table, the ratios."""
    info = report["machine"]
    lines = [
        f"# partner-publisher benchmark, {report['date']}",
        "",
        f"- Date: {report['date']} ({report['started_at']})",
        f"- Machine: {info['nproc']} CPUs, {info['cpu_model']} ({info['platform']})",
        f"- Python: {info['python']}",
        f"- Git commit: `{info['git_commit']}`",
        f"- Command: `{report['command']}`",
        f"- Events per run: {report['events']:,}; rounds: {report['rounds']} "
        "(each figure is the median of its rounds)",
        f"- Pinning: {report['pinning']}",
        f"- Machine busy before the run (other work, 2 s sample): "
        f"{report['machine_busy_before']:.0%}",
        "",
        "## Throughput and CPU",
        "",
        "| Scenario | What | " + " | ".join(c[0] for c in THROUGHPUT_COLUMNS) + " |",
        "|---|---|" + "---:|" * len(THROUGHPUT_COLUMNS),
    ]
    for name, figures in report["scenarios"].items():
        if name in ("spool_backlog_rss", "soak") or "instructions" in figures:
            continue
        what = report["descriptions"].get(name, "")
        if "error" in figures or figures.get("available") is False:
            note = figures.get("error") or f"not available: {figures.get('reason')}"
            blanks = " |" * (len(THROUGHPUT_COLUMNS) - 1)
            lines.append(f"| {name} | {what} | {_one_line(note)} |" + blanks)
            continue
        cells = [_cell(figures.get(key), fmt) for _, key, fmt in THROUGHPUT_COLUMNS]
        lines.append(f"| {name} | {what} | " + " | ".join(cells) + " |")
    lines += _ratio_lines(report) + _latency_lines(report) + _quota_lines(report)
    lines += _memory_lines(report)
    lines += _instruction_lines(report)
    lines += ["", f"![events/s and CPU-ms per 1,000 events]({chart_name})", ""]
    lines += ["## Method", "", *report["method"], ""]
    return "\n".join(lines)


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(str(text).split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _ratio_lines(report: Report) -> list[str]:
    lines = ["", "## Ratios (same invocation, alternating rounds)", ""]
    lines += [
        "| Ratio | Definition | Value | Per round | Target | Met |",
        "|---|---|---:|---|---:|---|",
    ]
    for name, ratio in report["ratios"].items():
        value = NA if ratio["value"] is None else f"{ratio['value']:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[ratio["met"]]
        if ratio["target"] is None:
            met = "(information)"
        target = NA if ratio["target"] is None else f">= {ratio['target']}"
        per_round = ", ".join(NA if v is None else f"{v:.2f}" for v in ratio.get("per_round", []))
        lines.append(
            f"| {name} | {ratio['definition']} | {value} | {per_round or NA} | {target} | {met} |"
        )
    return lines


def _latency_lines(report: Report) -> list[str]:
    latency = report["scenarios"].get("latency_5k")
    if not latency or "p99_ms" not in latency:
        return []
    met = "yes" if latency["target_met"] else "**no**"
    return [
        "",
        "## Delivery latency at 5,000 events/s (linger 20 ms)",
        "",
        f"p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms, "
        f"max {latency['max_ms']:.1f} ms over {latency['events']:,.0f} events; "
        f"target p99 <= {latency['target_p99_ms']} ms (linger + 25 ms): {met}.",
    ]


def _quota_lines(report: Report) -> list[str]:
    quota = report["scenarios"].get("daemon_quota")
    if not quota or "carried" not in quota:
        return []
    met = "yes" if quota["carried"] else "**no**"
    growth = quota["backlog_growth_events_per_s"]
    backlog = (
        "backlog unknown"
        if growth is None
        else f"backlog {quota['backlog_start_events']:,} -> {quota['backlog_end_events']:,} "
        f"events ({growth:+,.0f}/s)"
    )
    other = quota.get("daemon_core_other_busy")
    return [
        "",
        "## The default quota on one core (daemon_quota)",
        "",
        f"Offered {quota['offered_events_per_s']:,.0f} events/s at ingest "
        f"({quota['body_events']:,}-event bodies) for {quota['window_s']:.0f} s after a "
        f"warm-up: accepted {quota['accepted_events_per_s']:,.0f}/s, delivered "
        f"{quota['delivered_events_per_s']:,.0f}/s ({quota['carried_share']:.1%}); the daemon "
        f"used {quota['cpu_share']:.0%} of its core; {backlog}; ingest p99 "
        f"{quota['ingest_p99_ms']:,.0f} ms; {quota['entries_per_call']:.1f} entries per call. "
        f"Carries the quota (delivered >= 98% of offered, backlog not growing, core under "
        f"95%): {met}.",
        "",
        f"Core 0 (emulator {quota['emulator_busy']:.0%}, load generator "
        f"{quota['loadgen_busy']:.0%} busy); other work on the daemon's core: "
        + ("not measured" if other is None else f"{other:.0%}")
        + " (above a few percent, the daemon did not have its core to itself).",
    ]


def _memory_lines(report: Report) -> list[str]:
    lines: list[str] = []
    backlog = report["scenarios"].get("spool_backlog_rss")
    if backlog and "peak_rss_kib" in backlog:
        mib = {k: backlog[k] / 1024 for k in ("peak_rss_kib", "rss_end_kib", "rss_start_kib")}
        lines += [
            "",
            "## Memory with a spool backlog",
            "",
            f"{backlog['events']:,} events in the spool, nothing drained (endpoint down): "
            f"peak RSS (VmHWM) {mib['peak_rss_kib']:,.0f} MiB, "
            f"RSS at the end {mib['rss_end_kib']:,.0f} MiB "
            f"(start {mib['rss_start_kib']:,.0f} MiB), "
            f"spool {backlog['spool_bytes'] / 2**20:,.0f} MiB on disk, "
            f"ingest {backlog['ingest_events_per_s']:,.0f} events/s.",
        ]
    soak = report["scenarios"].get("soak")
    if soak and "samples" in soak:
        rss = ", ".join(f"{s['rss_kib'] / 1024:.0f}" for s in soak["samples"])
        lines += [
            "",
            f"## Soak: {soak['duration_s']:.0f} s at {soak['rate']:,} events/s",
            "",
            f"Published {soak['delivered']:,.0f}; RSS every 10 s (MiB): {rss}; "
            f"peak {soak['peak_rss_kib'] / 1024:.0f} MiB.",
        ]
    return lines


def _instruction_lines(report: Report) -> list[str]:
    counted = {n: f for n, f in report["scenarios"].items() if "instructions" in f}
    if not counted:
        return []
    lines = ["", "## Instructions (valgrind callgrind, whole process)", ""]
    for name, figures in counted.items():
        lines.append(
            f"- {name}: {figures['instructions_per_event']:,} instructions per event "
            f"({figures['instructions']:,} for {figures['events']:,} events)."
        )
    return lines


def write_chart(report: Report, path: Path) -> bool:
    """Side-by-side bars of events/s and CPU-ms per 1,000 events; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [
        (name, f["events_per_s"], f.get("cpu_ms_per_1k"))
        for name, f in report["scenarios"].items()
        if isinstance(f.get("events_per_s"), int | float) and name != "spool_backlog_rss"
    ]
    if not rows:
        return False
    names = [r[0] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.6 * len(rows) + 2.2))
    _bars(left, names, [r[1] for r in rows], "events/s (higher is better)", "{:,.0f}")
    _bars(right, names, [r[2] or 0 for r in rows], "CPU-ms per 1,000 events (lower is better)",
          "{:,.0f}")  # fmt: skip
    fig.suptitle(f"partner-publisher benchmark {report['date']} ({report['events']:,} events/run)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _bars(axis: Any, names: list[str], values: list[float], title: str, fmt: str) -> None:
    positions = range(len(names))
    axis.barh(positions, values, color="#4c72b0")
    axis.set_yticks(list(positions), names)
    axis.invert_yaxis()
    axis.set_title(title, fontsize=10)
    for y, value in zip(positions, values, strict=True):
        axis.text(value, y, " " + fmt.format(value), va="center", fontsize=8)
    axis.margins(x=0.2)
