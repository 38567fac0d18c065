"""The deploy/ files that tests check: the Prometheus alert rules and the Grafana dashboard's
queries (read as Grafana runs them, its variables substituted)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.conftest import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "partner-publisher.rules.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "partner-publisher.json"
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "$namespace": ".*",
    "$job": ".*",
}
"""What Grafana puts in place of its variables."""


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title / refId, PromQL with Grafana's variables substituted) for every target."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
                expr = expr.replace(variable, value)
            found.append((f"{panel['title']} / {target['refId']}", expr))
    return found


def alerts() -> list[dict[str, Any]]:
    """Every alerting rule of the rules file."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]
