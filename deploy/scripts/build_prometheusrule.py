"""Write deploy/prometheus/prometheusrule.yaml (Prometheus Operator) from the plain rule file.

Edit deploy/prometheus/rules/partner-publisher.rules.yaml, then run:

    .venv/bin/python deploy/scripts/build_prometheusrule.py

The test suite fails while the two differ.
"""

from __future__ import annotations

from pathlib import Path

PROMETHEUS_DIR = Path(__file__).resolve().parents[1] / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "partner-publisher.rules.yaml"
OUTPUT = PROMETHEUS_DIR / "prometheusrule.yaml"

HEADER = """\
# Generated from rules/partner-publisher.rules.yaml by deploy/scripts/build_prometheusrule.py;
# edit that file, not this one. The `release` label must match your Prometheus' ruleSelector
# (kube-prometheus-stack: the Helm release name).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: partner-publisher
  labels:
    app.kubernetes.io/name: partner-publisher
    release: kube-prometheus-stack
spec:
"""


def render(rules_text: str) -> str:
    body = [line for line in rules_text.splitlines() if not line.startswith("#")]
    return HEADER + "".join(f"  {line}\n" if line else "\n" for line in body)


def main() -> int:
    OUTPUT.write_text(render(RULES.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
