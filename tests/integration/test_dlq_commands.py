"""Every `dlq` command against every dead-letter store, as an operator runs it: the CLI as a
process, with only the config (list, filters, JSON, replay, replayed-once bookkeeping)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deadletter_stores import POSTGRES_DSN, STORE_FACTORIES, OpenStore
from input_factories import REDIS_URL, moto_url

from publisher.core.message import Message
from publisher.engine.deadletter import DeadLetter
from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings
from tests.conftest import run_cli


@pytest.fixture(params=sorted(STORE_FACTORIES))
async def store_and_section(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[OpenStore, dict[str, Any]]]:
    """A store factory and the `dead_letter` config section that names the same store."""
    async with STORE_FACTORIES[request.param](tmp_path) as open_store:
        store = await open_store()
        section: dict[str, Any] = {"kind": request.param}
        if request.param == "file":
            section["path"] = str(store.path)  # type: ignore[attr-defined]
        elif request.param == "redis":
            section |= {"url": REDIS_URL, "stream": store.stream}  # type: ignore[attr-defined]
        elif request.param == "sqs":
            section |= {"queue_url": store.queue_url, "endpoint_url": moto_url()}  # type: ignore[attr-defined]
        else:
            section |= {"dsn": POSTGRES_DSN, "table": store.table}  # type: ignore[attr-defined]
        yield open_store, section


def letter(n: int, tenant: str, reason: str) -> DeadLetter:
    body = json.dumps({"tenant": tenant, "detail_type": "T", "detail": {"n": n}, "id": f"ev-{n}"})
    return DeadLetter(
        Message(f"m-{n}", body.encode(), 1_795_323_600.0), reason, "X", "x", 2, None, None
    )


def dlq(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": ""}
    return run_cli("dlq", *args, "--config", str(config), env=env)


def listed(config: Path, *args: str) -> list[str]:
    done = dlq(config, "list", "--output", "json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["event"]["id"] for line in done.stdout.splitlines()]


async def test_list_filter_and_replay_each_letter_once(
    store_and_section: tuple[OpenStore, dict[str, Any]], tmp_path: Path
) -> None:
    open_store, section = store_and_section
    store = await open_store()
    letters = [letter(1, "acme", "rejected"), letter(2, "globex", "too_old")]
    await store.write([*letters, letter(3, "acme", "too_old")])
    spool_path = tmp_path / "spool.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "input": {"kind": "spool", "path": str(spool_path)},
                "dead_letter": section,
                "aws": {"region": "us-east-1"},
            }
        )
    )

    assert listed(config) == ["ev-1", "ev-2", "ev-3"]
    assert listed(config, "--reason", "too_old") == ["ev-2", "ev-3"]
    assert listed(config, "--tenant", "acme", "--limit", "1") == ["ev-3"]
    table = dlq(config, "list")
    assert "3 dead letter(s)" in table.stderr
    assert table.stdout.count("too_old") == 2

    done = dlq(config, "replay", "--reason", "too_old")
    assert done.returncode == 0, done.stderr
    assert "replayed 2" in done.stdout
    assert listed(config) == ["ev-1"]
    assert listed(config, "--include-replayed") == ["ev-1", "ev-2", "ev-3"]
    again = dlq(config, "replay", "--all")
    assert "replayed 1" in again.stdout
    assert "would replay 0" in dlq(config, "replay", "--all", "--dry-run").stdout

    spool = SpoolInput(SpoolInputSettings(path=spool_path), consumer=True)
    await spool.start()
    try:
        messages = await spool.fetch(10, 0.5)
    finally:
        await spool.close()
    assert sorted(json.loads(m.body)["id"] for m in messages) == ["ev-1", "ev-2", "ev-3"]
