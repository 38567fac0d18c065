"""Benchmark harness: `python -m bench` runs the scenarios and writes bench/results/."""

from __future__ import annotations
