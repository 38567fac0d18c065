"""`config check` and config discovery as a process: which file, warnings, --strict."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import CLI, cli_env

TENANTS = (
    'tenants: {acme: {account: "111122223333", source: aws.partner/example.com/acme/orders}}\n'
)


def check(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(HOME=str(cwd / "home"), **env),
        timeout=30,
    )


def test_no_tenants_warns_and_strict_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("aws: {region: us-east-1}\n")
    plain = check(tmp_path, "config", "check", "--config", "empty.yaml")
    assert plain.returncode == 0
    assert "warning: no tenants: the daemon would refuse every event" in plain.stderr
    strict = check(tmp_path, "config", "check", "--config", "empty.yaml", "--strict")
    assert strict.returncode == 2
    (tmp_path / "full.yaml").write_text(TENANTS)
    fine = check(tmp_path, "config", "check", "--config", "full.yaml", "--strict")
    assert (fine.returncode, fine.stderr) == (0, "")


def test_config_found_in_the_working_directory_is_named(tmp_path: Path) -> None:
    nothing = check(tmp_path, "config", "check")
    assert nothing.stdout.startswith("# config file: no config file (no --config")
    (tmp_path / "partner-publisher.yaml").write_text("aws: {region: eu-west-1}\n" + TENANTS)
    found = check(tmp_path, "config", "check")
    assert found.returncode == 0
    assert found.stdout.startswith(
        "# config file: partner-publisher.yaml (found in the working directory)"
    )
    assert "region: eu-west-1" in found.stdout
    debug = check(tmp_path, "--log-level", "debug", "config", "check")
    logged = [json.loads(line) for line in debug.stderr.splitlines() if '"config_file"' in line]
    assert logged[0]["path"] == "partner-publisher.yaml"
    assert logged[0]["found_by"] == "found in the working directory"
