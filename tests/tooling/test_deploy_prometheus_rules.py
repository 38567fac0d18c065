"""Alert rules and the Grafana dashboard: promtool checks and unit tests, PromQL syntax, layout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import tool
from tests.deploy_files import DASHBOARD, PROMETHEUS, RULES, alerts, dashboard_exprs

RULE_TESTS = PROMETHEUS / "tests" / "alerts_test.yaml"
RULE_TEST_FILES = sorted((PROMETHEUS / "tests").glob("*_test.yaml"))
REQUIRED_ALERTS = {
    "PartnerPublisherDown",
    "PartnerPublisherDeadLetters",
    "PartnerPublisherDeliveryLatencyHigh",
    "PartnerPublisherThrottled",
    "PartnerPublisherBacklogGrowing",
    "PartnerPublisherSourceDeleted",
    "PartnerPublisherSourcePendingTooLong",
}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    assert len(RULE_TEST_FILES) >= 2
    result = promtool("test", "rules", *(p.name for p in RULE_TEST_FILES), cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """A rule file with the dead-letter threshold raised must break the unit tests."""
    broken = RULES.read_text(encoding="utf-8").replace(
        "(increase(publisher_events_dead_lettered_total[10m])) > 0",
        "(increase(publisher_events_dead_lettered_total[10m])) > 1000000",
    )
    assert broken != RULES.read_text(encoding="utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / RULES.name).write_text(broken, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path / "tests")
    assert result.returncode != 0
    assert "PartnerPublisherDeadLetters" in result.stdout + result.stderr


def test_every_alert_is_tested_and_documented() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)), "alert names are unique"
    assert set(names) >= REQUIRED_ALERTS
    tested = {
        case["alertname"]
        for path in RULE_TEST_FILES
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert set(names) <= tested, f"alerts without a firing unit test: {set(names) - tested}"
    for rule in alerts():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_prometheus_rule_object_matches_the_rule_file() -> None:
    operator = yaml.safe_load((PROMETHEUS / "prometheusrule.yaml").read_text(encoding="utf-8"))
    plain = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert operator["kind"] == "PrometheusRule"
    assert operator["spec"] == plain, "run deploy/scripts/build_prometheusrule.py"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule: a typo fails here, offline."""
    exprs = dashboard_exprs()
    assert exprs
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    path.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "sum(rate(x[5m])"}]}]}
        )
    )
    assert promtool("check", "rules", str(path)).returncode != 0


def test_dashboard_layout_and_coverage() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace", "job"} <= variables
    text = " ".join(expr for _, expr in dashboard_exprs())
    wanted = {
        "throughput": "publisher_events_published_total",
        "errors by code": "by (error_code)",
        "retries": "publisher_events_retried_total",
        "dead letters": "publisher_events_dead_lettered_total",
        "latency percentiles": "histogram_quantile(0.99, sum by (le) "
        "(rate(publisher_event_delivery_seconds_bucket",
        "batch fill": "publisher_batch_entries",
        "in-flight calls": "publisher_in_flight_requests",
        "backlog": "publisher_backlog_events",
        "throttle rate": 'outcome="throttled"',
    }
    missing = [topic for topic, needle in wanted.items() if needle not in text]
    assert not missing, f"dashboard lacks {missing}"
