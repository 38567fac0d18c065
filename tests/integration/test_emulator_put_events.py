"""PutPartnerEvents against the live emulator through a real SDK client: rules, routing, records."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_support import (
    ACCOUNT,
    CUSTOMER_KEY,
    SOURCE,
    control,
    entry,
    events_client,
    raw_call,
)

from publisher.emulator import EmulatorOptions, RunningEmulator, running_emulator


@pytest.fixture
async def strict() -> AsyncIterator[RunningEmulator]:
    async with running_emulator() as emu:
        yield emu


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[Any]:
    async with events_client(emulator.url) as c:
        yield c


async def test_accepts_valid_entries_in_order_and_records_them(
    emulator: RunningEmulator, client: Any
) -> None:
    entries = [
        entry(
            Detail='{"n": 1}', Resources=["arn:aws:x:1"], Time=1_795_323_600
        ),  # 2026-11-22T05:00:00Z
        entry(Detail='{"n": 2}'),
    ]
    response = await client.put_partner_events(Entries=entries)

    assert response["FailedEntryCount"] == 0
    ids = [e["EventId"] for e in response["Entries"]]
    assert len(set(ids)) == 2
    assert response["ResponseMetadata"]["RequestId"]
    status, body = await control(emulator.url, "GET", "/_emulator/events")
    assert status == 200
    assert [e["id"] for e in body["events"]] == ids
    first = body["events"][0]
    assert first["detail"] == {"n": 1}
    assert first["source"] == SOURCE
    assert first["detail_type"] == "OrderCreated"
    assert first["resources"] == ["arn:aws:x:1"]
    assert first["time"] == "2026-11-22T05:00:00Z"
    assert first["account"] == "123456789012"
    assert body["dropped"] == []


async def test_partial_failure_keeps_request_order(client: Any) -> None:
    entries = [entry(), entry(Source="aws.partner/bad"), entry(), entry(Detail="[1]")]
    response = await client.put_partner_events(Entries=entries)

    assert response["FailedEntryCount"] == 2
    results = response["Entries"]
    assert "EventId" in results[0]
    assert "EventId" in results[2]
    assert results[1]["ErrorCode"] == "InvalidArgument"
    assert results[3] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


@pytest.mark.parametrize("missing", ["Source", "DetailType", "Detail"])
async def test_entry_missing_a_required_field_fails_alone(client: Any, missing: str) -> None:
    response = await client.put_partner_events(Entries=[entry(), entry(**{missing: None})])

    assert response["FailedEntryCount"] == 1
    failed = response["Entries"][1]
    assert failed["ErrorCode"] == "InvalidArgument"
    assert failed["ErrorMessage"] == (
        f"Parameter {missing} is not valid. Reason: {missing} is a required argument."
    )


async def test_no_complete_entry_fails_the_whole_call(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        await client.put_partner_events(Entries=[entry(Detail=None), entry(Source=None)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"Source": "aws.partner/example.com"}, "Source"),
        ({"Source": "partner/example.com/acme/orders"}, "Source"),
        ({"Source": "aws.partner/example.com/acme/or ders"}, "Source"),
        ({"Source": "aws.partner/example.com/" + "a" * 240}, "Source"),
        ({"DetailType": "x" * 129}, "DetailType"),
        ({"Resources": ["ok", "r" * 2049]}, "Resources"),
    ],
)
async def test_invalid_argument_rules(
    client: Any, overrides: dict[str, Any], parameter: str
) -> None:
    response = await client.put_partner_events(Entries=[entry(**overrides)])
    [result] = response["Entries"]
    assert result["ErrorCode"] == "InvalidArgument"
    assert result["ErrorMessage"].startswith(f"Parameter {parameter} is not valid.")


async def test_limits_are_inclusive(client: Any) -> None:
    source = "aws.partner/example.com/" + "a" * (256 - len("aws.partner/example.com/"))
    response = await client.put_partner_events(
        Entries=[entry(Source=source, DetailType="x" * 128, Resources=["r" * 2048])]
    )
    assert response["FailedEntryCount"] == 0


@pytest.mark.parametrize(
    "detail",
    [
        '"a string"',
        "42",
        "[1, 2]",
        "null",
        "{not json",
        '{"deep": ' + "[" * 1000 + "]" * 1000 + "}",
        '{"big": 9223372036854775808}',
        '{"small": -9223372036854775809}',
        '{"huge": 123456789012345678901234567890}',
    ],
)
async def test_malformed_detail(client: Any, detail: str) -> None:
    response = await client.put_partner_events(Entries=[entry(Detail=detail)])
    assert response["Entries"] == [
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    ]


@pytest.mark.parametrize(
    "detail",
    [
        '{"deep": ' + "[" * 999 + "]" * 999 + "}",
        '{"max": 9223372036854775807, "min": -9223372036854775808}',
        '{"digits_in_text": "123456789012345678901234567890"}',
    ],
)
async def test_detail_at_the_limits_is_accepted(client: Any, detail: str) -> None:
    response = await client.put_partner_events(Entries=[entry(Detail=detail)])
    assert response["FailedEntryCount"] == 0


async def test_more_than_twenty_entries_is_a_validation_error(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        await client.put_partner_events(Entries=[entry()] * 21)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: ")
    assert "Member must have length less than or equal to 20" in error["Message"]


async def test_empty_entries_is_a_validation_error(emulator: RunningEmulator) -> None:
    async with events_client(emulator.url, parameter_validation=False) as unchecked:
        with pytest.raises(ClientError) as caught:
            await unchecked.put_partner_events(Entries=[])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Member must have length greater than or equal to 1" in error["Message"]


async def test_total_size_rule_counts_time_and_utf8_bytes() -> None:
    detail = '{"k": "' + "é" * 20 + '"}'  # 30 chars, 50 UTF-8 bytes
    one = entry(Detail=detail, DetailType="t", Resources=["rr"], Time=1_700_000_000)
    size = len(SOURCE) + 1 + len(detail.encode()) + 2 + 14
    async with (
        running_emulator(
            EmulatorOptions(max_request_bytes=2 * size + 1, accept_unknown_sources=True)
        ) as emu,
        events_client(emu.url) as client,
    ):
        ok = await client.put_partner_events(Entries=[one, one])  # one byte under the limit
        assert ok["FailedEntryCount"] == 0
        with pytest.raises(ClientError) as caught:  # AWS: the total must be "less than" it
            await client.put_partner_events(Entries=[one, one, entry(Detail="{}", DetailType="t")])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == "Total size of the entries in the request is over the limit."


async def test_a_total_equal_to_the_limit_is_over_it() -> None:
    one = entry(Detail="{}", DetailType="t")
    size = len(SOURCE) + 1 + 2
    async with (
        running_emulator(
            EmulatorOptions(max_request_bytes=2 * size, accept_unknown_sources=True)
        ) as emu,
        events_client(emu.url) as client,
    ):
        assert (await client.put_partner_events(Entries=[one]))["FailedEntryCount"] == 0
        with pytest.raises(ClientError) as caught:
            await client.put_partner_events(Entries=[one, one])
    assert caught.value.response["Error"]["Code"] == "ValidationException"


async def test_pending_source_accepts_but_drops(strict: RunningEmulator) -> None:
    async with events_client(strict.url) as client:
        await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
        response = await client.put_partner_events(Entries=[entry()])

    assert response["FailedEntryCount"] == 0
    _, body = await control(strict.url, "GET", "/_emulator/events")
    assert body["events"] == []
    assert [d["id"] for d in body["dropped"]] == [response["Entries"][0]["EventId"]]
    _, stats = await control(strict.url, "GET", "/_emulator/stats")
    assert stats["entries_dropped_pending"] == 1


async def test_active_source_delivers_with_its_account(strict: RunningEmulator) -> None:
    async with (
        events_client(strict.url) as partner,
        events_client(strict.url, key=CUSTOMER_KEY) as customer,
    ):
        await partner.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
        await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
        await partner.put_partner_events(Entries=[entry()])

    _, body = await control(strict.url, "GET", "/_emulator/events")
    assert [e["account"] for e in body["events"]] == [ACCOUNT]


async def test_deleted_source_fails_each_entry(client: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    await client.delete_partner_event_source(Name=SOURCE, Account=ACCOUNT)

    response = await client.put_partner_events(Entries=[entry()])

    assert response["Entries"] == [
        {
            "ErrorCode": "ResourceNotFoundException",
            "ErrorMessage": f"Event Bus Not Found for source {SOURCE}",
        }
    ]


async def test_unknown_source_fails_by_default_as_in_aws(strict: RunningEmulator) -> None:
    async with (
        events_client(strict.url) as client,
        events_client(strict.url, key=CUSTOMER_KEY) as customer,
    ):
        response = await client.put_partner_events(Entries=[entry()])
        assert response["Entries"][0] == {
            "ErrorCode": "ResourceNotFoundException",
            "ErrorMessage": f"Event Bus Not Found for source {SOURCE}",
        }
        await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
        await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
        response = await client.put_partner_events(Entries=[entry()])
        assert response["FailedEntryCount"] == 0


async def test_another_partners_source_is_not_authorized(strict: RunningEmulator) -> None:
    async with (
        events_client(strict.url, key="partner") as partner,
        events_client(strict.url, key=CUSTOMER_KEY) as customer,
    ):
        await partner.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
        await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
        # The customer account cannot send as the partner.
        response = await customer.put_partner_events(Entries=[entry()])
    assert response["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert ACCOUNT in response["Entries"][0]["ErrorMessage"]


async def test_event_bus_name_member_is_refused(emulator: RunningEmulator) -> None:
    status, body, _ = await raw_call(
        emulator.url, "AWSEvents.PutPartnerEvents", {"Entries": [entry(EventBusName="default")]}
    )
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "EventBusName" in body["message"]
    assert "routed by Source" in body["message"]


async def test_events_endpoint_filters_by_source_and_offset(
    emulator: RunningEmulator, client: Any
) -> None:
    other = "aws.partner/example.com/beta/orders"
    await client.put_partner_events(
        Entries=[entry(Detail='{"n": 1}'), entry(Source=other), entry(Detail='{"n": 2}')]
    )
    _, only_other = await control(emulator.url, "GET", f"/_emulator/events?source={other}")
    assert [e["source"] for e in only_other["events"]] == [other]
    _, since = await control(emulator.url, "GET", "/_emulator/events?since=2")
    assert [e["detail"] for e in since["events"]] == [{"n": 2}]
    assert since["next"] == 3
    status, _ = await control(emulator.url, "GET", "/_emulator/events?since=-1")
    assert status == 400


async def test_events_endpoint_pages_with_since_and_limit(
    emulator: RunningEmulator, client: Any
) -> None:
    await client.put_partner_events(Entries=[entry(Detail=json.dumps({"n": n})) for n in range(5)])
    seen, since, pages = [], 0, 0
    while True:
        _, page = await control(emulator.url, "GET", f"/_emulator/events?since={since}&limit=2")
        seen += [e["detail"]["n"] for e in page["events"]]
        since, pages = page["next"], pages + 1
        if not page["more"]:
            break
    assert (seen, pages, since) == ([0, 1, 2, 3, 4], 3, 5)
    for bad in ("0", "abc", "100001"):
        status, body = await control(emulator.url, "GET", f"/_emulator/events?limit={bad}")
        assert status == 400
        assert "limit must be" in body["error"]


async def test_wrong_json_types_are_serialization_errors(emulator: RunningEmulator) -> None:
    status, body, _ = await raw_call(
        emulator.url, "AWSEvents.PutPartnerEvents", {"Entries": [{"Source": 5}]}
    )
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = await raw_call(emulator.url, "AWSEvents.PutPartnerEvents", b"{nope")
    assert (status, body["__type"]) == (400, "SerializationException")


async def test_records_keep_up_with_many_events(emulator: RunningEmulator, client: Any) -> None:
    batch = [entry(Detail=json.dumps({"i": i})) for i in range(20)]
    for _ in range(50):
        await client.put_partner_events(Entries=batch)
    assert len(emulator.state.events.delivered.records) == 1000
    _, stats = await control(emulator.url, "GET", "/_emulator/stats")
    assert stats["entries_accepted"] == 1000
    assert stats["calls"]["ok"] == 50
