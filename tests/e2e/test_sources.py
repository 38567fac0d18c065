"""`partner-publisher sources ...` and source states in the running daemon, as processes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import botocore.session

from tests.conftest import CLI, cli_env, emulator_process, wait_until
from tests.e2e.processes import (
    ACCOUNT,
    CUSTOMER_ACCOUNTS,
    OTHER_SOURCE,
    SOURCE,
    daemon,
    emulator_events,
    event_lines,
    http_json,
    read_jsonl,
    write_config,
)


def sources(url: str, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--config", str(config)] if config else []
    return subprocess.run(
        [*CLI, "--log-level", "warning", "sources", *args, *extra],
        capture_output=True,
        text=True,
        env=cli_env(PUBLISHER__AWS__ENDPOINT_URL=url),
        timeout=60,
    )


def customer_creates_bus(url: str, source: str) -> None:
    """The tenant's own account (its access key is the tenant's name) associates the source."""
    tenant = "acme" if source == SOURCE else "globex"
    client = botocore.session.get_session().create_client(
        "events",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=tenant,
        aws_secret_access_key="testing",
    )
    client.create_event_bus(Name=source, EventSourceName=source)


def test_every_sources_command_as_a_process() -> None:
    with emulator_process(*CUSTOMER_ACCOUNTS) as url:
        created = sources(url, "create", "--name", SOURCE, "--account", ACCOUNT, "--output", "json")
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["status"] == "created"
        again = sources(url, "create", "--name", SOURCE, "--account", ACCOUNT)
        assert again.returncode == 0
        assert "exists" in again.stdout
        assert f"event-source/{SOURCE}" in again.stdout

        bad = sources(url, "create", "--name", "aws.partner/only-one", "--account", ACCOUNT)
        assert bad.returncode == 2
        assert "must match aws.partner" in bad.stderr
        assert sources(url, "create", "--name", SOURCE, "--account", "12").returncode == 2

        described = sources(url, "describe", "--name", SOURCE, "--output", "json")
        assert json.loads(described.stdout)["Name"] == SOURCE
        listed = sources(url, "list", "--prefix", "aws.partner/example.com/", "--output", "json")
        assert [json.loads(line)["Name"] for line in listed.stdout.splitlines()] == [SOURCE]
        accounts = sources(url, "accounts", "--name", SOURCE)
        assert "PENDING" in accounts.stdout
        assert ACCOUNT in accounts.stdout
        deleted = sources(url, "delete", "--name", SOURCE, "--account", ACCOUNT)
        assert deleted.returncode == 0
        assert "DELETED" in sources(url, "accounts", "--name", SOURCE).stdout
        missing = sources(url, "describe", "--name", OTHER_SOURCE)
        assert missing.returncode == 1
        assert "ResourceNotFoundException" in missing.stderr


def test_sync_creates_what_the_tenants_need(tmp_path: Path) -> None:
    with emulator_process(*CUSTOMER_ACCOUNTS) as url:
        config = write_config(tmp_path, url)
        dry = sources(url, "sync", "--dry-run", "--output", "json", config=config)
        assert dry.returncode == 0, dry.stderr
        assert {t["action"] for t in json.loads(dry.stdout)["tenants"]} == {"would_create"}
        done = sources(url, "sync", config=config)
        assert done.returncode == 0
        assert done.stdout.count("created") == 2
        assert "PENDING" in sources(url, "accounts", "--name", OTHER_SOURCE).stdout


def test_list_defaults_to_the_tenants_partner_prefixes(tmp_path: Path) -> None:
    with emulator_process() as url:
        config = write_config(tmp_path, url)
        assert sources(url, "sync", config=config).returncode == 0
        listed = sources(url, "list", "--output", "json", config=config)
        assert listed.returncode == 0, listed.stderr
        names = [json.loads(line)["Name"] for line in listed.stdout.splitlines()]
        assert names == [SOURCE, OTHER_SOURCE]
        for prefix in ("aws.partner/example.com", "aws.partner/example.com/"):
            done = sources(url, "list", "--prefix", prefix, "--output", "json")
            assert done.returncode == 0, done.stderr
            assert len(done.stdout.splitlines()) == 2
        empty = tmp_path / "empty.yaml"
        empty.write_text(f"aws: {{endpoint_url: {url}}}\n")
        no_tenants = sources(url, "list", config=empty)
        assert no_tenants.returncode == 2
        assert "give --prefix aws.partner/<your domain>" in no_tenants.stderr


def test_deleted_source_is_dead_lettered_fast_while_others_deliver(tmp_path: Path) -> None:
    with emulator_process(*CUSTOMER_ACCOUNTS) as url:
        config = write_config(tmp_path, url, sources={"refresh": True, "refresh_interval_s": 1})
        assert sources(url, "sync", config=config).returncode == 0
        customer_creates_bus(url, SOURCE)
        customer_creates_bus(url, OTHER_SOURCE)
        assert (
            sources(url, "delete", "--name", OTHER_SOURCE, "--account", "444455556666").returncode
            == 0
        )
        with daemon(config) as proc:
            wait_until(
                lambda: proc.metric('publisher_tenants{state="DELETED"}') == 1, 10, "states known"
            )
            started = time.monotonic()
            body = event_lines(range(20), "globex") + event_lines(range(100, 120), "acme")
            assert proc.post(body.encode())[0] == 202
            wait_until(
                lambda: len(read_jsonl(tmp_path / "dead-letters.jsonl")) == 20, 10, "dead letters"
            )
            assert time.monotonic() - started < 3
            wait_until(lambda: len(emulator_events(url)) == 20, 10, "acme's events")
            assert {e["source"] for e in emulator_events(url)} == {SOURCE}
            letters = read_jsonl(tmp_path / "dead-letters.jsonl")
            assert {letter["reason"] for letter in letters} == {"source_deleted"}
            status, stats = http_json(f"{url}/_emulator/stats")
            assert status == 200
            assert stats["entries_failed"] == {}  # globex's events never reached AWS


def test_held_events_go_out_once_the_source_turns_active(tmp_path: Path) -> None:
    with emulator_process(*CUSTOMER_ACCOUNTS) as url:
        config = write_config(
            tmp_path, url, sources={"refresh": True, "refresh_interval_s": 1, "pending": "hold"}
        )
        assert sources(url, "sync", config=config).returncode == 0
        customer_creates_bus(url, SOURCE)
        with daemon(config) as proc:
            wait_until(
                lambda: proc.metric('publisher_tenants{state="PENDING"}') == 1, 10, "states known"
            )
            assert proc.post(event_lines(range(10), "globex").encode())[0] == 202
            # A held event comes back after refresh_interval_s; counted held twice, each was
            # looked at again after a refresh that still found the source PENDING.
            wait_until(lambda: proc.metric("publisher_events_held_total") >= 20, 10, "re-holding")
            assert emulator_events(url) == []
            assert http_json(f"{url}/_emulator/events")[1]["dropped"] == []
            customer_creates_bus(url, OTHER_SOURCE)
            wait_until(lambda: len(emulator_events(url)) == 10, 15, "held events delivered")
            assert {e["source"] for e in emulator_events(url)} == {OTHER_SOURCE}
            assert read_jsonl(tmp_path / "dead-letters.jsonl") == []
