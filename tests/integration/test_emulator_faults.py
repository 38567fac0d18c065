"""Fault injection and the control endpoints, observed through a real SDK client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from emulator_support import ACCOUNT, SOURCE, control, entry, events_client

from publisher.emulator import EmulatorOptions, RunningEmulator, running_emulator
from publisher.emulator.faults import FaultConfig


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[Any]:
    async with events_client(emulator.url) as c:
        yield c


async def set_faults(url: str, **faults: Any) -> None:
    status, body = await control(url, "POST", "/_emulator/faults", faults)
    assert status == 200, body


async def recorded(url: str) -> int:
    _, body = await control(url, "GET", "/_emulator/events")
    return len(body["events"])


@pytest.mark.parametrize(
    ("fault", "code", "status", "outcome"),
    [
        ("throttle_rate", "ThrottlingException", 400, "throttled"),
        ("error_500_rate", "InternalException", 500, "error_500"),
        ("error_503_rate", "ServiceUnavailable", 503, "error_503"),
    ],
)
async def test_whole_call_errors(
    emulator: RunningEmulator, client: Any, fault: str, code: str, status: int, outcome: str
) -> None:
    await set_faults(emulator.url, **{fault: 1.0})
    with pytest.raises(ClientError) as caught:
        await client.put_partner_events(Entries=[entry()])
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert await recorded(emulator.url) == 0
    _, stats = await control(emulator.url, "GET", "/_emulator/stats")
    assert stats["calls"][outcome] == 1


async def test_drop_loses_the_call(emulator: RunningEmulator, client: Any) -> None:
    await set_faults(emulator.url, drop_rate=1.0)
    with pytest.raises(ConnectionClosedError):
        await client.put_partner_events(Entries=[entry()])
    assert await recorded(emulator.url) == 0
    _, stats = await control(emulator.url, "GET", "/_emulator/stats")
    assert stats["calls"]["dropped"] == 1


async def test_drop_after_records_then_fails_so_a_retry_duplicates(
    emulator: RunningEmulator, client: Any
) -> None:
    await set_faults(emulator.url, drop_after_rate=1.0)
    with pytest.raises(ConnectionClosedError):
        await client.put_partner_events(Entries=[entry()])
    await set_faults(emulator.url)
    await client.put_partner_events(Entries=[entry()])
    _, body = await control(emulator.url, "GET", "/_emulator/events")
    assert [e["detail"] for e in body["events"]] == [{"order_id": "ord-1001", "amount": 12}] * 2


async def test_entry_errors_at_rate_one(emulator: RunningEmulator, client: Any) -> None:
    await set_faults(emulator.url, entry_error_rates={"ThrottlingException": 1.0})
    response = await client.put_partner_events(Entries=[entry(), entry(Detail="[]")])
    assert response["FailedEntryCount"] == 2
    assert response["Entries"] == [
        {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
    ]
    assert await recorded(emulator.url) == 0
    _, stats = await control(emulator.url, "GET", "/_emulator/stats")
    assert stats["entries_failed"] == {"ThrottlingException": 1, "MalformedDetail": 1}


async def test_zero_rates_inject_nothing(emulator: RunningEmulator, client: Any) -> None:
    await set_faults(
        emulator.url,
        entry_error_rates={"InternalFailure": 0.0},
        throttle_rate=0.0,
        drop_rate=0.0,
        drop_after_rate=0.0,
    )
    for _ in range(5):
        response = await client.put_partner_events(Entries=[entry()] * 20)
        assert response["FailedEntryCount"] == 0
    assert await recorded(emulator.url) == 100


async def _failure_pattern(url: str, client: Any) -> list[str]:
    await set_faults(url, entry_error_rates={"InternalFailure": 0.3}, throttle_rate=0.2, seed=42)
    pattern = []
    for _ in range(15):
        try:
            response = await client.put_partner_events(Entries=[entry()] * 20)
        except ClientError as error:
            pattern.append(error.response["Error"]["Code"])
        else:
            pattern.append("".join("x" if "ErrorCode" in e else "." for e in response["Entries"]))
    return pattern


async def test_seeded_partial_rates_repeat(emulator: RunningEmulator, client: Any) -> None:
    first = await _failure_pattern(emulator.url, client)
    second = await _failure_pattern(emulator.url, client)

    assert first == second
    throttled = first.count("ThrottlingException")
    assert 0 < throttled < 15
    entries = "".join(p for p in first if p != "ThrottlingException")
    assert 0.1 < entries.count("x") / len(entries) < 0.5
    _, faults = await control(emulator.url, "GET", "/_emulator/faults")
    assert faults["seed"] == 42
    assert faults["entry_error_rates"] == {"InternalFailure": 0.3}


async def test_latency_delays_the_answer(emulator: RunningEmulator, client: Any) -> None:
    await set_faults(emulator.url, latency_ms=300)
    started = time.monotonic()
    await client.put_partner_events(Entries=[entry()])
    assert time.monotonic() - started >= 0.3


async def test_faults_spare_control_plane_calls(emulator: RunningEmulator, client: Any) -> None:
    await set_faults(emulator.url, throttle_rate=1.0, drop_rate=1.0)
    created = await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    assert created["EventSourceArn"].endswith(SOURCE)


async def test_cli_flag_faults_are_in_force_from_the_start() -> None:
    options = EmulatorOptions(
        faults=FaultConfig(entry_error_rates={"InternalFailure": 1.0}), accept_unknown_sources=True
    )
    async with running_emulator(options) as emu, events_client(emu.url) as client:
        response = await client.put_partner_events(Entries=[entry()])
    assert response["Entries"] == [
        {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal Service Error"}
    ]


@pytest.mark.parametrize(
    "faults",
    [
        {"throttle_rate": 1.5},
        {"drop_rate": "often"},
        {"entry_error_rates": {"InternalFailure": -0.1}},
        {"latency_ms": -1},
        {"no_such_fault": 1},
        [1, 2],
    ],
)
async def test_bad_fault_settings_are_refused(emulator: RunningEmulator, faults: Any) -> None:
    status, body = await control(emulator.url, "POST", "/_emulator/faults", faults)
    assert status == 400
    assert body["error"]


async def test_reset_forgets_everything(emulator: RunningEmulator, client: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    await client.put_partner_events(Entries=[entry(), entry(Source="aws.partner/x.com/a/b")])
    await set_faults(emulator.url, throttle_rate=1.0)

    status, _ = await control(emulator.url, "POST", "/_emulator/reset")

    assert status == 200
    _, body = await control(emulator.url, "GET", "/_emulator/events")
    assert body == {"events": [], "dropped": [], "next": 0, "dropped_next": 0, "more": False}
    _, stats = await control(emulator.url, "GET", "/_emulator/stats")
    assert stats["requests"] == 0
    assert stats["entries_accepted"] == 0
    _, faults = await control(emulator.url, "GET", "/_emulator/faults")
    assert faults["throttle_rate"] == 0.0
    with pytest.raises(ClientError):
        await client.describe_partner_event_source(Name=SOURCE)


async def test_stats_count_calls_and_entries(emulator: RunningEmulator, client: Any) -> None:
    await client.put_partner_events(Entries=[entry(), entry(DetailType="x" * 200)])
    with pytest.raises(ClientError):
        await client.put_partner_events(Entries=[entry()] * 21)

    _, stats = await control(emulator.url, "GET", "/_emulator/stats")
    assert stats["requests"] == 2
    assert stats["calls"]["ok"] == 1
    assert stats["calls"]["validation_error"] == 1
    assert stats["entries_accepted"] == 1
    assert stats["entries_failed"] == {"InvalidArgument": 1}
    assert stats["operations"] == {"PutPartnerEvents": 2}
