"""Rows 7, 8, 13, 14: what `config check` accepts, `run` runs; what it refuses names the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.e2e.processes import cli_env, write_config

ENDPOINT = "http://127.0.0.1:9"  # never called: these configs are refused first


def check(config: Path, **env: str) -> tuple[int, str]:
    result = run_cli("config", "check", "--config", str(config), env=cli_env(**env))
    return result.returncode, result.stderr


def run(config: Path, **env: str) -> tuple[int, str]:
    result = run_cli("run", "--config", str(config), env=cli_env(**env), timeout_s=30)
    return result.returncode, result.stderr


def test_an_empty_token_off_loopback_is_no_token_and_refused(tmp_path: Path) -> None:
    # Before: `config check` exited 0 and an empty `Authorization: Bearer` got 202.
    config = write_config(tmp_path, ENDPOINT, ingest={"host": "0.0.0.0", "token": ""})
    for command in (check, run):
        code, stderr = command(config)
        assert code == 2
        assert "ingest.token is required" in stderr


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("publish", "request_timeout_s", float("inf"), "(0, 600]"),
        ("publish", "rate_limit_rps", float("inf"), "(0, 1000000]"),
        ("publish", "rate_limit_window_s", 0, "(0, 60]"),
        ("publish", "linger_ms", 1e12, "[0, 60000]"),
        ("retry", "max_age_s", float("nan"), "(0, 2592000]"),
    ],
)
def test_numbers_must_be_finite_and_in_range(
    tmp_path: Path, section: str, key: str, value: float, allowed: str
) -> None:
    # Before: accepted; the daemon then died on the first publish, at start, or never sent.
    config = write_config(tmp_path, ENDPOINT, **{section: {key: value}})
    for command in (check, run):
        code, stderr = command(config)
        assert code == 2
        assert f"{section}.{key}" in stderr
        assert f"allowed: {allowed}" in stderr


def test_a_missing_tenants_file_fails_check_and_run_alike(tmp_path: Path) -> None:
    # Before: `config check` exited 0, `run` exited 2.
    config = write_config(tmp_path, ENDPOINT)
    data = yaml.safe_load(config.read_text())
    data["tenants_file"] = str(tmp_path / "missing.yaml")
    config.write_text(yaml.safe_dump(data))
    for command in (check, run):
        code, stderr = command(config)
        assert code == 2
        assert "missing.yaml" in stderr


def test_a_boolean_is_not_a_number(tmp_path: Path) -> None:
    # Before: `max_entries: true` became 1.
    config = write_config(tmp_path, ENDPOINT, publish={"max_entries": True})
    code, stderr = check(config)
    assert code == 2
    assert "publish.max_entries" in stderr
    assert "a boolean is not a number" in stderr


def test_a_malformed_environment_variable_name_is_an_error(tmp_path: Path) -> None:
    # Before: PUBLISHER____PUBLISH____LINGER_MS was read as publish.linger_ms.
    config = write_config(tmp_path, ENDPOINT)
    for command in (check, run):
        code, stderr = command(config, PUBLISHER____PUBLISH____LINGER_MS="5")
        assert code == 2
        assert "PUBLISHER____PUBLISH____LINGER_MS: malformed variable name" in stderr
    assert check(config, PUBLISHER__PUBLISH__LINGER_MS="5")[0] == 0
