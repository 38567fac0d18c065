"""From runs to figures: the median of each scenario's rounds, and the ratios with targets."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ratio:
    """numerator scenario's figure / denominator scenario's figure, and the value to reach."""

    name: str
    definition: str
    numerator: tuple[str, str]
    denominator: tuple[str, str]
    target: float | None


RATIOS = (
    Ratio(
        "send_cpu_advantage",
        "sdk_loop CPU per event / send CPU per event",
        ("sdk_loop", "cpu_ms_per_1k"),
        ("send", "cpu_ms_per_1k"),
        2.0,
    ),
    Ratio(
        "daemon_vs_send",
        "daemon_ingest events/s / send events/s",
        ("daemon_ingest", "events_per_s"),
        ("send", "events_per_s"),
        0.7,
    ),
    Ratio(
        "daemon_cpu_advantage",
        "sdk_loop CPU per event / daemon_ingest CPU per event (500-event bodies), start-up "
        "excluded on both sides",
        ("sdk_loop", "steady_cpu_ms_per_1k"),
        ("daemon_ingest", "cpu_ms_per_1k"),
        1.6,
    ),
    Ratio(
        "daemon_cpu_advantage_20",
        "the same with 20-event bodies (information, no target)",
        ("sdk_loop", "steady_cpu_ms_per_1k"),
        ("daemon_ingest_20", "cpu_ms_per_1k"),
        None,
    ),
    Ratio(
        "send_1_within_budget",
        "0.25 CPU-s / send_1 CPU-s (>= 1.0: a one-event send costs at most 0.25 s of CPU)",
        ("send_1", "target_cpu_s"),
        ("send_1", "cpu_s"),
        1.0,
    ),
    *(
        Ratio(
            f"{queue}_vs_spool",
            f"{queue} events per CPU-second / daemon_ingest's (spool); both drain as fast as the "
            "daemon can (PostgreSQL, RabbitMQ: a backlog filled while the daemon was stopped)",
            ("daemon_ingest", "cpu_ms_per_1k"),
            (queue, "cpu_ms_per_1k"),
            0.8,
        )
        for queue in ("daemon_redis", "daemon_postgres", "daemon_amqp")
    ),
    *(
        Ratio(
            f"{queue}_live_vs_spool",
            f"{queue} events per CPU-second while the harness fills at its own pace / "
            "daemon_ingest's (information: the producer's pace, not the daemon, sets the rate)",
            ("daemon_ingest", "cpu_ms_per_1k"),
            (queue, "live_cpu_ms_per_1k"),
            None,
        )
        for queue in ("daemon_postgres", "daemon_amqp")
    ),
    Ratio(
        "ledger_cpu_efficiency",
        "daemon events per CPU-second with the ledger on / with it off (daemon_ingest_no_ledger "
        "CPU per event / daemon_ingest CPU per event)",
        ("daemon_ingest_no_ledger", "cpu_ms_per_1k"),
        ("daemon_ingest", "cpu_ms_per_1k"),
        0.9,
    ),
    Ratio(
        "ledger_instruction_efficiency",
        "send's instructions per event with the ledger off / with it on (callgrind; backs up "
        "ledger_cpu_efficiency)",
        ("send_instructions_no_ledger", "instructions_per_event"),
        ("send_instructions", "instructions_per_event"),
        0.9,
    ),
    Ratio(
        "send_instruction_advantage",
        "sdk_loop instructions per event / send instructions per event (callgrind, start-up "
        "included; backs up send_cpu_advantage, information, no target)",
        ("sdk_loop_instructions", "instructions_per_event"),
        ("send_instructions", "instructions_per_event"),
        None,
    ),
    Ratio(
        "daemon_quota_carried",
        "daemon_quota delivered events/s / offered events/s (--quota-rate, default the "
        "default quota of 28,000/s, at ingest; the daemon on one core)",
        ("daemon_quota", "delivered_events_per_s"),
        ("daemon_quota", "offered_events_per_s"),
        0.98,
    ),
    Ratio(
        "daemon_quota_cpu_share",
        "daemon_quota: the daemon's CPU-seconds / wall seconds of the window, its share of its "
        "core (information; carrying the quota needs it under 0.95)",
        ("daemon_quota", "cpu_s"),
        ("daemon_quota", "measured_s"),
        None,
    ),
    Ratio(
        "send_cpu_advantage_steady",
        "the same with each process's start-up CPU left out (information, no target)",
        ("sdk_loop", "steady_cpu_ms_per_1k"),
        ("send", "steady_cpu_ms_per_1k"),
        None,
    ),
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def median_of_rounds(rounds: Sequence[Result]) -> Result:
    """One figure per field: the median of the numbers, the last round's value otherwise."""
    good = [r for r in rounds if "error" not in r]
    if not good:
        return {"error": rounds[-1]["error"] if rounds else "not run", "rounds": len(rounds)}
    merged: Result = {}
    for key in good[-1]:
        values = [r[key] for r in good if key in r]
        if all(_is_number(v) for v in values):
            middle = statistics.median(values)
            whole = all(isinstance(v, int) for v in values) and float(middle).is_integer()
            merged[key] = int(middle) if whole else middle
        else:
            merged[key] = values[-1]
    if "p99_ms" in merged and "target_p99_ms" in merged:
        merged["target_met"] = merged["p99_ms"] <= merged["target_p99_ms"]
    merged["rounds"] = len(good)
    if len(good) < len(rounds):
        merged["failed_rounds"] = len(rounds) - len(good)
    return merged


def _figure(runs: Result | None, key: str) -> float | None:
    value = None if runs is None else runs.get(key)
    return float(value) if isinstance(value, int | float) and _is_number(value) else None


def ratios(summary: dict[str, Result], by_round: dict[str, list[Result]]) -> dict[str, Result]:
    """Each ratio from the medians, with the same ratio per round to show the spread."""
    out: dict[str, Result] = {}
    for ratio in RATIOS:
        top = _figure(summary.get(ratio.numerator[0]), ratio.numerator[1])
        bottom = _figure(summary.get(ratio.denominator[0]), ratio.denominator[1])
        entry: Result = {"definition": ratio.definition, "target": ratio.target}
        if top is None or not bottom:
            entry.update(value=None, met=None, note="a scenario it needs did not run")
        else:
            value = top / bottom
            met = None if ratio.target is None else value >= ratio.target
            entry.update(value=round(value, 3), met=met)
            entry["per_round"] = _per_round(ratio, by_round)
        out[ratio.name] = entry
    return out


def _per_round(ratio: Ratio, by_round: dict[str, list[Result]]) -> list[float | None]:
    tops = by_round.get(ratio.numerator[0], [])
    bottoms = by_round.get(ratio.denominator[0], [])
    values: list[float | None] = []
    for top_run, bottom_run in zip(tops, bottoms, strict=False):
        top = _figure(top_run, ratio.numerator[1])
        bottom = _figure(bottom_run, ratio.denominator[1])
        values.append(round(top / bottom, 3) if top is not None and bottom else None)
    return values
