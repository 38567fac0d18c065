"""Partner event source calls and their state machine, through a real SDK client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_support import (
    ACCOUNT,
    CUSTOMER_KEY,
    PARTNER_ACCOUNT,
    SOURCE,
    control,
    entry,
    events_client,
)

from publisher.emulator import EmulatorOptions, RunningEmulator, running_emulator


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(EmulatorOptions(region="eu-west-1")) as emu:
        yield emu


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[Any]:
    async with events_client(emulator.url, region="eu-west-1") as c:
        yield c


@pytest.fixture
async def customer(emulator: RunningEmulator) -> AsyncIterator[Any]:
    """The customer account the sources are offered to (111122223333)."""
    async with events_client(emulator.url, region="eu-west-1", key=CUSTOMER_KEY) as c:
        yield c


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


async def state_of(client: Any, name: str = SOURCE) -> str:
    response = await client.list_partner_event_source_accounts(EventSourceName=name)
    return str(response["PartnerEventSourceAccounts"][0]["State"])


async def test_create_and_describe(client: Any) -> None:
    created = await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    arn = f"arn:aws:events:eu-west-1::event-source/{SOURCE}"
    assert created["EventSourceArn"] == arn

    described = await client.describe_partner_event_source(Name=SOURCE)
    assert (described["Arn"], described["Name"]) == (arn, SOURCE)
    assert "State" not in described

    with pytest.raises(ClientError) as caught:
        await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    assert error_code(caught) == "ResourceAlreadyExistsException"


async def test_describe_missing_is_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        await client.describe_partner_event_source(Name=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("name", "account", "fragment"),
    [
        ("aws.partner/example.com", ACCOUNT, "at 'name' failed to satisfy constraint"),
        ("other/example.com/a/b", ACCOUNT, "regular expression pattern"),
        (SOURCE, "1234", "at 'account' failed to satisfy constraint"),
        (SOURCE, "12345678901a", "regular expression pattern: \\d{12}"),
    ],
)
async def test_create_validates_like_aws(
    emulator: RunningEmulator, name: str, account: str, fragment: str
) -> None:
    async with events_client(emulator.url, region="eu-west-1", parameter_validation=False) as c:
        with pytest.raises(ClientError) as caught:
            await c.create_partner_event_source(Name=name, Account=account)
    assert error_code(caught) == "ValidationException"
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: ")
    assert fragment in message


async def test_new_source_is_pending_with_timestamps(client: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    response = await client.list_partner_event_source_accounts(EventSourceName=SOURCE)
    [account] = response["PartnerEventSourceAccounts"]
    assert account["Account"] == ACCOUNT
    assert account["State"] == "PENDING"
    assert account["ExpirationTime"] - account["CreationTime"] == timedelta(days=7)
    assert "NextToken" not in response


async def test_customer_side_transitions(client: Any, customer: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)

    bus = await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
    assert bus["EventBusArn"] == f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/{SOURCE}"
    assert await state_of(client) == "ACTIVE"

    await customer.deactivate_event_source(Name=SOURCE)
    assert await state_of(client) == "PENDING"
    await customer.activate_event_source(Name=SOURCE)
    described = await customer.describe_event_source(Name=SOURCE)
    assert described["State"] == "ACTIVE"
    assert described["CreatedBy"] == "example.com"
    assert described["Arn"].endswith(f"event-source/{SOURCE}")

    await customer.delete_event_bus(Name=SOURCE)
    assert await state_of(client) == "PENDING"

    await client.delete_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    assert await state_of(client) == "DELETED"
    with pytest.raises(ClientError) as caught:
        await customer.activate_event_source(Name=SOURCE)
    assert error_code(caught) == "InvalidStateException"
    with pytest.raises(ClientError) as caught:
        await client.describe_partner_event_source(Name=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"


async def test_event_bus_rules(client: Any, customer: Any) -> None:
    with pytest.raises(ClientError) as caught:
        await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    other = "aws.partner/example.com/acme/other"
    with pytest.raises(ClientError) as caught:
        await customer.create_event_bus(Name=other, EventSourceName=SOURCE)
    assert error_code(caught) == "ValidationException"
    await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
    with pytest.raises(ClientError) as caught:
        await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
    assert error_code(caught) == "ResourceAlreadyExistsException"


async def test_only_the_sources_account_can_create_its_bus(client: Any, customer: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    # The partner (123456789012) is not the account the source was offered to.
    with pytest.raises(ClientError) as caught:
        await client.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"
    assert f"for account {PARTNER_ACCOUNT}" in caught.value.response["Error"]["Message"]
    # Nor can it see or toggle the source from the customer side.
    with pytest.raises(ClientError) as caught:
        await client.describe_event_source(Name=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"
    # The customer cannot act as the partner: the source is not among its own.
    with pytest.raises(ClientError) as caught:
        await customer.describe_partner_event_source(Name=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"
    listed = await customer.list_partner_event_sources(NamePrefix="aws.partner/example.com/")
    assert listed["PartnerEventSources"] == []
    await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)


async def test_describe_event_bus_by_name_or_arn_with_times(client: Any, customer: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    arn = (await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE))["EventBusArn"]
    by_name = await customer.describe_event_bus(Name=SOURCE)
    by_arn = await customer.describe_event_bus(Name=arn)
    for described in (by_name, by_arn):
        assert (described["Name"], described["Arn"]) == (SOURCE, arn)
        assert described["CreationTime"] == described["LastModifiedTime"]
    default = await client.describe_event_bus()
    assert default["Arn"] == f"arn:aws:events:eu-west-1:{PARTNER_ACCOUNT}:event-bus/default"
    assert "CreationTime" in default
    # The partner account has no such bus of its own.
    with pytest.raises(ClientError) as caught:
        await client.describe_event_bus(Name=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"


async def test_put_events_follows_the_state(
    emulator: RunningEmulator, client: Any, customer: Any
) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    await client.put_partner_events(Entries=[entry(Detail='{"phase": "pending"}')])
    await customer.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)
    await client.put_partner_events(Entries=[entry(Detail='{"phase": "active"}')])
    await customer.deactivate_event_source(Name=SOURCE)
    await client.put_partner_events(Entries=[entry(Detail='{"phase": "deactivated"}')])

    _, body = await control(emulator.url, "GET", "/_emulator/events")
    assert [e["detail"]["phase"] for e in body["events"]] == ["active"]
    assert [e["detail"]["phase"] for e in body["dropped"]] == ["pending", "deactivated"]


async def test_list_paginates_with_opaque_tokens(client: Any) -> None:
    names = [f"aws.partner/example.com/tenant{i:02d}/orders" for i in range(23)]
    for name in names:
        await client.create_partner_event_source(Name=name, Account=ACCOUNT)
    await client.create_partner_event_source(Name="aws.partner/other.com/x/y", Account=ACCOUNT)

    seen: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"NamePrefix": "aws.partner/example.com/"}
    while True:
        page = await client.list_partner_event_sources(**kwargs)
        pages += 1
        seen += [s["Name"] for s in page["PartnerEventSources"]]
        if "NextToken" not in page:
            break
        assert SOURCE not in page["NextToken"]
        kwargs["NextToken"] = page["NextToken"]
    assert seen == names
    assert pages == 3  # default page size 10

    limited = await client.list_partner_event_sources(
        NamePrefix="aws.partner/example.com/", Limit=23
    )
    assert len(limited["PartnerEventSources"]) == 23
    assert "NextToken" not in limited


async def test_list_rejects_bad_input(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        await client.list_partner_event_sources(NamePrefix="aws.partner/", Limit=5)
    assert error_code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        await client.list_partner_event_sources(
            NamePrefix="aws.partner/example.com/", NextToken="garbage"
        )
    assert error_code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        await client.list_partner_event_sources(NamePrefix="aws.partner/example.com/", Limit=101)
    assert "less than or equal to 100" in caught.value.response["Error"]["Message"]


async def test_accounts_of_missing_source_is_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        await client.list_partner_event_source_accounts(EventSourceName=SOURCE)
    assert error_code(caught) == "ResourceNotFoundException"


async def test_delete_of_missing_source_is_quiet(client: Any) -> None:
    response = await client.delete_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_recreating_a_deleted_source_starts_pending(client: Any) -> None:
    await client.create_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    await client.delete_partner_event_source(Name=SOURCE, Account=ACCOUNT)
    await client.create_partner_event_source(Name=SOURCE, Account="444455556666")
    response = await client.list_partner_event_source_accounts(EventSourceName=SOURCE)
    [account] = response["PartnerEventSourceAccounts"]
    assert (account["Account"], account["State"]) == ("444455556666", "PENDING")


async def test_control_endpoint_forces_a_state(emulator: RunningEmulator, client: Any) -> None:
    status, body = await control(
        emulator.url,
        "POST",
        "/_emulator/sources",
        {"name": SOURCE, "account": ACCOUNT, "state": "ACTIVE"},
    )
    assert (status, body["state"]) == (200, "ACTIVE")
    assert await state_of(client) == "ACTIVE"
    status, _ = await control(
        emulator.url, "POST", "/_emulator/sources", {"name": SOURCE, "state": "GONE"}
    )
    assert status == 400
    _, listing = await control(emulator.url, "GET", "/_emulator/sources")
    assert listing["sources"] == [
        {
            "name": SOURCE,
            "account": ACCOUNT,
            "partner": PARTNER_ACCOUNT,
            "state": "ACTIVE",
            "has_bus": True,
        }
    ]
