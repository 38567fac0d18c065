"""`partner-publisher send` as a process, for both clients, against the emulator's network
switches: HTTPS with a private CA behind a path prefix, reached through a proxy, with gzip and
malformed replies; and against replies that are never valid."""

from __future__ import annotations

import gzip
import json
import ssl
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, cli_env
from tests.conftest import emulator_process as emulator
from tests.e2e.processes import LENIENT, event_lines, read_jsonl, write_config
from tests.integration.network_support import HIDDEN_HOST, forward_proxy, make_certificates

CLIENTS = ["sdk", "fast"]


def send(config: Path, events: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--log-level", "warning", "send", str(events), "--config", str(config)],
        capture_output=True,
        text=True,
        env=cli_env(**env),
        timeout=120,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    last: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return last


def fetch_json(url: str, ca: Path) -> Any:
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        body = response.read()
        if response.headers.get("Content-Encoding") == "gzip":  # --gzip-responses always
            body = gzip.decompress(body)
        return json.loads(body)


@pytest.mark.parametrize("kind", CLIENTS)
def test_send_through_a_proxy_to_a_gateway_with_a_private_ca_publishes_each_event_once(
    kind: str, tmp_path: Path
) -> None:
    certs = make_certificates(tmp_path, [HIDDEN_HOST], ["127.0.0.1"])
    flags = [
        LENIENT, "--access-key-id", "testing", "--secret-access-key", "testing",
        "--path-prefix", "/eventbridge", "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
        "--gzip-responses", "always", "--fault-malformed", "0.3", "--seed", "5",
    ]  # fmt: skip
    with emulator(*flags) as url, forward_proxy(tmp_path, {HIDDEN_HOST: "127.0.0.1"}) as proxy:
        assert url.startswith("https://127.0.0.1:")
        assert url.endswith("/eventbridge")
        endpoint = url.replace("127.0.0.1", HIDDEN_HOST)  # only the proxy resolves this name
        config = write_config(tmp_path, endpoint, publish={"client": kind, "linger_ms": 10})
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(300)))
        result = send(config, events, HTTPS_PROXY=proxy.url, AWS_CA_BUNDLE=str(certs.ca))
        assert result.returncode == 0, result.stderr
        assert (summary(result)["published"], summary(result)["dead_lettered"]) == (300, 0)
        delivered = fetch_json(f"{url}/_emulator/events", certs.ca)["events"]
        stats = fetch_json(f"{url}/_emulator/stats", certs.ca)
    assert Counter(event["detail"]["n"] for event in delivered) == Counter(range(300))
    assert stats["calls"]["malformed"] > 0
    assert {r["method"] for r in proxy.requests()} == {"CONNECT"}


@pytest.mark.parametrize("kind", CLIENTS)
def test_send_never_dies_on_replies_that_are_never_valid(kind: str, tmp_path: Path) -> None:
    with emulator(LENIENT, "--fault-malformed", "1") as url:
        config = write_config(tmp_path, url, publish={"client": kind}, retry={"max_attempts": 3})
        events = tmp_path / "events.ndjson"
        events.write_text(event_lines(range(50)))
        result = send(config, events)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (summary(result)["published"], summary(result)["dead_lettered"]) == (0, 50)
    letters = read_jsonl(tmp_path / "dead-letters.jsonl")
    assert {(d["reason"], d["error_code"]) for d in letters} == {
        ("attempts_exhausted", "MalformedResponse")
    }
    assert sorted(d["event"]["detail"]["n"] for d in letters) == list(range(50))


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_ca_bundle_that_cannot_be_read_stops_send_with_its_name(
    kind: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "https://127.0.0.1:9", publish={"client": kind})
    events = tmp_path / "events.ndjson"
    events.write_text(event_lines(range(3)))
    result = send(config, events, AWS_CA_BUNDLE=str(tmp_path / "missing-ca.pem"))
    assert result.returncode == 2
    assert "cannot load the CA bundle" in result.stderr
    assert "missing-ca.pem" in result.stderr
