"""The ingest's OpenAPI document against the running daemon: a real validator checks the
document, and schemathesis sends it property-based requests with every check enabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.conftest import emulator_process
from tests.e2e.processes import (
    LENIENT,
    SOURCE,
    Daemon,
    daemon,
    write_config,
)

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "publisher" / "http" / "openapi.json"
TOKEN = "contract-token"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Bounded: a fixed seed and example count keep the run within about a minute and the same
# from one CI run to the next.
MAX_EXAMPLES = "40"
SEED = "19"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("contract")
    with emulator_process(LENIENT) as url:
        config = write_config(directory, url, ingest={"token": TOKEN, "max_body_bytes": 65536})
        with daemon(config) as proc:
            yield proc


def served_document(proc: Daemon) -> dict[str, Any]:
    with urllib.request.urlopen(f"{proc.ingest_url}/openapi.json", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        document: dict[str, Any] = json.loads(response.read())
        return document


def test_the_served_document_is_the_repository_one_and_valid(running: Daemon) -> None:
    document = served_document(running)
    assert document == json.loads(DOCUMENT.read_text())
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    responses = document["paths"]["/v1/events"]["post"]["responses"]
    assert set(responses) >= {"202", "400", "401", "413", "415", "503"}
    assert "Retry-After" in responses["503"]["headers"]


def for_this_daemon(document: dict[str, Any], directory: Path) -> Path:
    """The document with the deployment's values pinned: which tenants exist and which source
    is each one's are configuration, so a schema-valid event is only valid for acme."""
    schemas = document["components"]["schemas"]
    schemas["Event"]["properties"]["tenant"] = {"type": "string", "const": "acme"}
    schemas["Event"]["properties"]["source"] = {"enum": [SOURCE, None]}
    schemas["CloudEvent"]["properties"]["tenant"] = {"type": "string", "const": "acme"}
    path = directory / "openapi.json"
    path.write_text(json.dumps(document))
    return path


def run_schemathesis(document: Path, base_url: str, tag: str, directory: Path) -> None:
    command = [
        str(SCHEMATHESIS),
        "run",
        str(document),
        "--url",
        base_url,
        "--include-tag",
        tag,
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--request-timeout",
        "10",
    ]
    # Ingest answers a body with some invalid items 202 and lists them: the hooks' check
    # `invalid_items_are_rejected` holds it to that, in place of the built-in's 4xx rule.
    (directory / "schemathesis.toml").write_text(
        "[[operations]]\n"
        'include-operation-id = "postEvents"\n'
        'checks.negative_data_rejection.expected-statuses = ["202", "400", "401", "413", "415"]\n'
    )
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


def test_ingest_conforms_to_its_document(running: Daemon, tmp_path: Path) -> None:
    document = for_this_daemon(served_document(running), tmp_path)
    run_schemathesis(document, running.ingest_url, "ingest", tmp_path)


def test_admin_conforms_to_the_document(running: Daemon, tmp_path: Path) -> None:
    document = for_this_daemon(served_document(running), tmp_path)
    run_schemathesis(document, running.admin_url, "admin", tmp_path)
