"""Build the customer's chain from nothing with the CLI as processes, verifying after each step.

At every step `connect verify` must fail at exactly the first missing link and print the
command that fixes it; the test then runs that printed command itself. At the end it passes.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from tests.conftest import CLI, cli_env, emulator_process
from tests.e2e.processes import ACCOUNT, SOURCE, http_json

DOMAIN = "acme-profiles"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as the emulator's default customer (access key `customer`); the partner's own
    command (`sources ...`) runs with the partner's key (`partner`). No endpoint comes from
    the environment: each command must carry --endpoint-url itself."""
    key = "partner" if args[0] == "sources" else "customer"
    return subprocess.run(
        [*CLI, "--log-level", "warning", *args],
        capture_output=True,
        text=True,
        env=cli_env(AWS_ACCESS_KEY_ID=key),
        timeout=60,
    )


def verify(url: str) -> tuple[int, list[str], str | None]:
    """(exit code, result of each line, the fix printed under the first FAIL)."""
    done = cli("connect", "verify", "--source", SOURCE, "--domain", DOMAIN,
               "--account", ACCOUNT, "--endpoint-url", url)  # fmt: skip
    lines = done.stdout.splitlines()
    results = [line.split()[0] for line in lines if line[:4] in ("PASS", "FAIL", "SKIP")]
    fixes = [line.split("fix: ", 1)[1] for line in lines if line.strip().startswith("fix: ")]
    return done.returncode, results, (fixes[0] if fixes else None)


def run_fix(url: str, fix: str, **placeholders: str) -> subprocess.CompletedProcess[str]:
    for name, value in placeholders.items():
        fix = fix.replace(f"<{name}>", value)
    argv = shlex.split(fix)
    assert argv[0] == "partner-publisher"
    assert argv[-2:] == ["--endpoint-url", url]  # the fix targets what verify checked
    done = cli(*argv[1:])
    assert done.returncode == 0, done.stderr
    return done


def control(url: str, path: str, body: dict[str, str]) -> None:
    status, _ = http_json(
        url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    assert status == 200


def test_chain_from_nothing_with_verify_after_each_step() -> None:
    with emulator_process("--secret-access-key", "testing") as url:
        code, results, fix = verify(url)
        assert (code, results) == (1, ["FAIL", "FAIL", "FAIL", "SKIP", "SKIP", "SKIP"])
        assert fix == (
            f"partner-publisher sources create --name {SOURCE} --account {ACCOUNT} "
            f"--endpoint-url {url}"
        )
        run_fix(url, fix)  # the partner's step

        code, results, fix = verify(url)
        assert (code, results[:2]) == (1, ["FAIL", "FAIL"])
        assert fix == f"partner-publisher connect bus --source {SOURCE} --endpoint-url {url}"
        assert "created" in run_fix(url, fix).stdout
        assert "exists" in run_fix(url, fix).stdout  # safe to re-run

        code, results, fix = verify(url)
        assert (code, results[:3]) == (1, ["PASS", "PASS", "FAIL"])
        assert fix is not None
        assert fix.startswith("partner-publisher connect event-integration create")
        assert "created" in run_fix(url, fix).stdout
        assert "exists" in run_fix(url, fix).stdout

        code, results, fix = verify(url)
        assert (code, results[:4]) == (1, ["PASS", "PASS", "PASS", "FAIL"])
        assert (
            fix == f"partner-publisher connect domain create --domain {DOMAIN} --endpoint-url {url}"
        )
        assert "created" in run_fix(url, fix).stdout
        assert "exists" in run_fix(url, fix).stdout

        code, results, fix = verify(url)
        assert (code, results[:4]) == (1, ["PASS", "PASS", "PASS", "FAIL"])
        assert fix is not None
        assert f"profiles attach --domain {DOMAIN}" in fix
        name = SOURCE.removeprefix("aws.partner/").replace("/", "-")
        control(url, "/_emulator/associations", {"event_integration": name, "client_id": "Tasks"})

        code, results, fix = verify(url)
        assert (code, results) == (1, ["PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP"])
        assert fix is not None
        assert "--object-type-names SegmentIdentify=<OBJECT_TYPE>" in fix
        assert "created" in run_fix(url, fix, OBJECT_TYPE="Segment_Identify").stdout
        assert "exists" in run_fix(url, fix, OBJECT_TYPE="Segment_Identify").stdout

        code, results, fix = verify(url)
        assert (code, results, fix) == (0, ["PASS"] * 6, None)
        as_json = cli("connect", "verify", "--source", SOURCE, "--output", "json",
                      "--endpoint-url", url)  # fmt: skip
        assert as_json.returncode == 0
        assert json.loads(as_json.stdout)["ok"] is True
