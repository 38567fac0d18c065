"""The pure parts of the hardening: acks kept and retried, health, marks, records, config."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from publisher import daemon
from publisher.core.message import Message
from publisher.core.tenants import TenantRegistry
from publisher.engine.deadletter import encode_record, replay_body
from publisher.engine.pipeline import INPUT_READS
from publisher.errors import ConfigError, InputUnavailable
from publisher.inputs.memory import MemoryInput
from publisher.inputs.spool.mark import SpoolMark, lost_events
from publisher.observe.health import Health
from publisher.observe.metrics import Metrics
from publisher.settings import load_settings, load_tenants_file
from tests.unit.test_pipeline import (
    MemoryDeadLetters,
    ScriptedClients,
    body,
    make_pipeline,
    metric,
    ok,
    publish,
)


class FlakyAcks(MemoryInput):
    """Acks fail the first `failures` times, as a full disk or a Redis outage would."""

    def __init__(self, failures: int) -> None:
        super().__init__(visibility_timeout_s=0.2)
        self.failures = failures
        self.fetched = 0

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        messages = await super().fetch(max_messages, wait_s)
        self.fetched += len(messages)
        return messages

    async def ack(self, messages: Sequence[Message]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise InputUnavailable("disk full")
        await super().ack(messages)


async def test_failed_acks_are_retried_and_nothing_is_published_twice() -> None:
    source = FlakyAcks(failures=4)
    clients = ScriptedClients(ok)
    run = await publish([body(n) for n in range(60)], clients, queue=source)
    assert sum(clients.accepted.values()) == 60  # each once, although leases ran out meanwhile
    assert set(clients.accepted) == set(range(60))
    assert metric(run, "publisher_ack_failures_total") == 4
    assert metric(run, "publisher_acks_pending") == 0
    assert await source.backlog() == 0


def test_health_marks_expire_only_when_asked_to() -> None:
    now = [0.0]
    health = Health(clock=lambda: now[0])
    health.fail("a", "broken")
    health.fail("b", "refused a post", for_s=10)
    assert health.failing() == {"a": "broken", "b": "refused a post"}
    now[0] = 11
    assert health.failing() == {"a": "broken"}
    health.ok("a")
    assert health.reason("a") is None


def test_a_record_orjson_cannot_encode_keeps_the_raw_text() -> None:
    text = '{"detail":' + '{"a":' * 300 + "1" + "}" * 300 + "}"
    letter = encode_record({"event": _deep(300), "reason": "rejected"}, text.encode())
    decoded = orjson.loads(letter)
    assert decoded["event"] == text
    assert replay_body(decoded) == text.encode()
    assert letter.endswith(b"\n")


def _deep(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"a": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("spool_id", "high_water", "lost"),
    [
        ("s1", 100, None),
        ("s1", 150, None),
        ("s1", 50, "restored from an older copy"),
        (None, 0, "a new, empty file"),
        ("s2", 10, "spool id s2"),
    ],
)
def test_a_mark_tells_which_files_lost_events(
    spool_id: str | None, high_water: int, lost: str | None
) -> None:
    found = lost_events(SpoolMark("s1", 100, pending=7), spool_id, high_water)
    if lost is None:
        assert found is None
    else:
        assert found is not None
        assert lost in found


def test_a_replaced_spool_that_held_nothing_lost_nothing() -> None:
    assert lost_events(SpoolMark("s1", 100, pending=0), "s2", 0) is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PUBLISHER____PUBLISH____LINGER_MS": "5"}, "malformed variable name"),
        ({"PUBLISHER__PUBLISH__LINGER_MS": "inf"}, "allowed: [0, 60000]"),
        ({"PUBLISHER__PUBLISH__LINGER_MS": "1e12"}, "allowed: [0, 60000]"),
        ({"PUBLISHER__RETRY__MAX_AGE_S": "nan"}, "retry.max_age_s"),
        ({"PUBLISHER__INGEST__HOST": "0.0.0.0", "PUBLISHER__INGEST__TOKEN": '" "'}, "token"),
    ],
)
def test_config_errors_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(None, environ)


def test_booleans_are_not_numbers(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("publish: {max_entries: true}\n")
    with pytest.raises(ConfigError, match=r"publish\.max_entries: a boolean is not a number"):
        load_settings(config, {})


@pytest.mark.parametrize(
    ("text", "message"), [("", "is empty"), ("acme: {account: '1111", "cut short")]
)
def test_a_tenants_file_being_rewritten_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_tenants_file(path)


class FailingReads(MemoryInput):
    """Fetches fail until `healed` is set (a damaged file, a dead server)."""

    def __init__(self) -> None:
        super().__init__(visibility_timeout_s=30)
        self.healed = asyncio.Event()
        self.failed = asyncio.Event()

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        if not self.healed.is_set():
            self.failed.set()
            raise InputUnavailable("database disk image is malformed")
        return await super().fetch(max_messages, wait_s)


async def test_reads_that_fail_are_reported_by_name_until_they_work_again() -> None:
    source = FailingReads()
    health = Health()
    settled = asyncio.Event()
    pipeline = make_pipeline(
        source,
        ScriptedClients(ok),
        MemoryDeadLetters(),
        Metrics(),
        health=health,
        on_settled=lambda published, dead: settled.set(),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=1))
    await asyncio.wait_for(source.failed.wait(), 5)
    assert "database disk image is malformed" in (health.reason(INPUT_READS) or "")
    source.healed.set()
    await source.put([body(1)])
    await asyncio.wait_for(settled.wait(), 10)
    assert health.reason(INPUT_READS) is None
    stop.set()
    await task


async def test_a_tenants_file_rewritten_during_a_reload_is_read_until_it_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants_file = tmp_path / "tenants.yaml"
    acme = "acme: {account: '111122223333', source: aws.partner/example.com/acme/orders}\n"
    globex = "globex: {account: '444455556666', source: aws.partner/example.com/globex/o}\n"
    tenants_file.write_text(acme)  # cut at a line end: parses, but globex is missing
    settings = load_settings(None, {"PUBLISHER__TENANTS_FILE": str(tenants_file)})
    registry = TenantRegistry({}, "us-east-1")
    monkeypatch.setattr(daemon, "TENANTS_SETTLE_S", 0.01)
    reload = asyncio.create_task(daemon._reload_tenants(settings, registry))
    await asyncio.sleep(0)  # the first read is done; the task waits to read again
    tenants_file.write_text(acme + globex)  # the rewrite completes
    await reload
    assert sorted(route.tenant for route in registry) == ["acme", "globex"]
