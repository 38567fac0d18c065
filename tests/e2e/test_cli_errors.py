"""Each error class the CLI prints says what happened and what to do, with the right exit code."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import CLI, emulator_process, free_port
from tests.e2e.processes import SOURCE, http_json

VERIFY = ["connect", "verify", "--source", SOURCE]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--log-level", "warning", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS credentials anywhere the default chain looks (no instance role either)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    env.update(extra)
    return env


def test_missing_credentials_exit_2_and_say_where_they_are_looked_for(tmp_path: Path) -> None:
    env = bare_env(tmp_path, PUBLISHER__AWS__ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    for args in (["sources", "list", "--prefix", "aws.partner/example.com"], VERIFY):
        done = run(*args, env=env)
        assert done.returncode == 2, done.stderr
        assert "NetworkError" not in done.stderr
        assert "no AWS credentials found" in done.stderr
        for place in ("environment", "profile", "web identity", "instance role"):
            assert place in done.stderr


def test_unreachable_endpoint_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = bare_env(tmp_path, AWS_ACCESS_KEY_ID="partner", AWS_SECRET_ACCESS_KEY="testing")
    done = run("sources", "describe", "--name", SOURCE, env={**env,
               "PUBLISHER__AWS__ENDPOINT_URL": url})  # fmt: skip
    assert done.returncode == 1
    assert f"EndpointUnreachable: could not connect to {url}/" in done.stderr
    assert "is it running?" in done.stderr


def test_throttling_and_access_denied_carry_advice(tmp_path: Path) -> None:
    env = bare_env(tmp_path, AWS_ACCESS_KEY_ID="customer", AWS_SECRET_ACCESS_KEY="testing")
    with emulator_process() as url:
        for code, advice in (
            ("ThrottlingException", "try again in a minute"),
            ("AccessDeniedException", "IAM policy"),
        ):
            body = {"operation": "ListEventIntegrations", "codes": [code] * 5}
            status, _ = http_json(
                f"{url}/_emulator/rest-faults", json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )  # fmt: skip
            assert status == 200
            done = run("connect", "event-integration", "list", "--endpoint-url", url, env=env)
            assert done.returncode == 1
            assert f"list_event_integrations: {code}" in done.stderr
            assert advice in done.stderr


def test_send_names_an_unknown_region_and_missing_credentials(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "aws: {region: us-est-1}\n"  # a typo: AWS has no such Region
        f"dead_letter: {{path: '{tmp_path / 'dead.jsonl'}'}}\n"
        'tenants: {acme: {account: "111122223333", source: aws.partner/example.com/acme/orders}}\n'
    )
    done = subprocess.run(
        [*CLI, "--log-level", "warning", "send", "-", "--config", str(config)],
        input="", capture_output=True, text=True, env=bare_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no AWS credentials found" in done.stderr
    assert "web identity" in done.stderr
    assert "warning: us-est-1 is not an AWS Region" in done.stderr
