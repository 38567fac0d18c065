"""The emulator's AppIntegrations and Customer Profiles over real HTTP with real SDK clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from publisher.emulator import EmulatorOptions, running_emulator
from tests.integration.connect_support import (
    DOMAIN,
    ROLE_ARN,
    SOURCE,
    associate,
    create_domain,
    flow,
    queue_errors,
)


@asynccontextmanager
async def client(
    url: str, service: str, secret: str = "testing", key: str = "customer"
) -> AsyncIterator[Any]:
    """A client signing as the emulator's default customer account (111122223333)."""
    async with get_session().create_client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=AioConfig(retries={"total_max_attempts": 1}),
    ) as made:
        yield made


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def integration_request(name: str = "acme-orders", **overrides: Any) -> dict[str, Any]:
    body = {"Name": name, "EventFilter": {"Source": SOURCE}, "EventBridgeBus": SOURCE}
    body.update(overrides)
    return body


async def test_event_integration_lifecycle_and_errors() -> None:
    options = EmulatorOptions(secret_access_key="testing")
    async with running_emulator(options) as emu, client(emu.url, "appintegrations") as ai:
        created = await ai.create_event_integration(**integration_request(ClientToken="t1"))
        arn = created["EventIntegrationArn"]
        assert arn.endswith(":event-integration/acme-orders")
        again = await ai.create_event_integration(**integration_request(ClientToken="t1"))
        assert again["EventIntegrationArn"] == arn  # same token, same request: same answer
        with pytest.raises(ClientError) as dup:
            await ai.create_event_integration(**integration_request(ClientToken="t2"))
        assert error_of(dup) == ("DuplicateResourceException", 409)
        with pytest.raises(ClientError) as reused:
            await ai.create_event_integration(
                **integration_request(Description="other", ClientToken="t1")
            )
        assert error_of(reused) == ("InvalidRequestException", 400)
        with pytest.raises(ClientError) as bad:
            await ai.create_event_integration(**integration_request(EventBridgeBus="bad bus"))
        assert error_of(bad) == ("InvalidRequestException", 400)
        assert "EventBridgeBus" in str(bad.value)

        got = await ai.get_event_integration(Name="acme-orders")
        assert got["EventFilter"] == {"Source": SOURCE}
        assert got["EventBridgeBus"] == SOURCE
        with pytest.raises(ClientError) as missing:
            await ai.get_event_integration(Name="nope")
        assert error_of(missing) == ("ResourceNotFoundException", 404)

        assert await associate(emu.url, "acme-orders") == 200
        listed = await ai.list_event_integration_associations(EventIntegrationName="acme-orders")
        assert [a["ClientId"] for a in listed["EventIntegrationAssociations"]] == ["ConnectTasks"]
        with pytest.raises(ClientError) as refused:
            await ai.delete_event_integration(Name="acme-orders")
        assert error_of(refused) == ("InvalidRequestException", 400)
        assert "associations" in str(refused.value)


async def test_list_pages_and_limits() -> None:
    async with running_emulator() as emu, client(emu.url, "appintegrations") as ai:
        for n in range(53):
            await ai.create_event_integration(**integration_request(f"ei-{n:02d}"))
        first = await ai.list_event_integrations(MaxResults=50)
        assert len(first["EventIntegrations"]) == 50
        second = await ai.list_event_integrations(MaxResults=50, NextToken=first["NextToken"])
        assert [i["Name"] for i in second["EventIntegrations"]] == ["ei-50", "ei-51", "ei-52"]
        assert "NextToken" not in second
        with pytest.raises(ClientError) as too_many:
            await ai.list_event_integrations(MaxResults=51)
        assert error_of(too_many)[1] == 400


async def test_profiles_integration_workflow_and_queued_errors() -> None:
    async with (
        running_emulator() as emu,
        client(emu.url, "appintegrations") as ai,
        client(emu.url, "customer-profiles") as cp,
    ):
        arn = (await ai.create_event_integration(**integration_request()))["EventIntegrationArn"]
        with pytest.raises(ClientError) as no_domain:
            await cp.put_integration(DomainName=DOMAIN, Uri=arn, ObjectTypeName="Order")
        assert error_of(no_domain) == ("ResourceNotFoundException", 404)
        await create_domain(emu.url)
        with pytest.raises(ClientError) as bad_key:
            await cp.put_integration(DomainName=DOMAIN, Uri=arn, ObjectTypeNames={"Nope": "X"})
        assert error_of(bad_key) == ("BadRequestException", 400)
        put = await cp.put_integration(
            DomainName=DOMAIN, Uri=arn, ObjectTypeNames={"SegmentIdentify": "Segment_Identify"}
        )
        assert put["CreatedAt"].year >= 2026
        got = await cp.get_integration(DomainName=DOMAIN, Uri=arn)
        assert got["ObjectTypeNames"] == {"SegmentIdentify": "Segment_Identify"}
        associations = await ai.list_event_integration_associations(
            EventIntegrationName="acme-orders"
        )
        assert [a["ClientId"] for a in associations["EventIntegrationAssociations"]] == [
            "CustomerProfiles"
        ]
        workflow = await cp.create_integration_workflow(
            DomainName=DOMAIN, WorkflowType="APPFLOW_INTEGRATION", ObjectTypeName="Account",
            RoleArn=ROLE_ARN, IntegrationConfig={"AppflowIntegration": {"FlowDefinition": flow()}},
        )  # fmt: skip
        assert len(workflow["WorkflowId"]) == 32
        statuses = [
            (await cp.get_workflow(DomainName=DOMAIN, WorkflowId=workflow["WorkflowId"]))["Status"]
            for _ in range(4)
        ]
        assert statuses == ["NOT_STARTED", "IN_PROGRESS", "COMPLETE", "COMPLETE"]

        await queue_errors(
            emu.url, "GetIntegration", "ThrottlingException", "AccessDeniedException"
        )
        with pytest.raises(ClientError) as throttled:
            await cp.get_integration(DomainName=DOMAIN, Uri=arn)
        assert error_of(throttled) == ("ThrottlingException", 429)
        with pytest.raises(ClientError) as denied:
            await cp.get_integration(DomainName=DOMAIN, Uri=arn)
        assert error_of(denied) == ("AccessDeniedException", 403)
        await cp.get_integration(DomainName=DOMAIN, Uri=arn)  # the queue is empty again


async def test_routed_by_signing_service_and_signature_checked() -> None:
    options = EmulatorOptions(secret_access_key="testing")
    async with running_emulator(options) as emu:
        async with client(emu.url, "appintegrations", secret="wrong") as ai:
            with pytest.raises(ClientError) as forged:
                await ai.list_event_integrations()
            assert error_of(forged) == ("InvalidSignatureException", 403)
        auth = (
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0000"
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(emu.url + "/eventIntegrations", headers={"Authorization": auth}) as resp,
        ):
            assert resp.status == 403
            assert resp.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
            assert "Message" in await resp.json()


async def test_names_holding_a_slash_stay_one_path_segment() -> None:
    options = EmulatorOptions(secret_access_key="testing")
    async with running_emulator(options) as emu, client(emu.url, "appintegrations") as ai:
        await ai.create_event_integration(**integration_request("team/acme.orders"))
        got = await ai.get_event_integration(Name="team/acme.orders")
        assert got["Name"] == "team/acme.orders"
        listed = await ai.list_event_integration_associations(
            EventIntegrationName="team/acme.orders"
        )
        assert listed["EventIntegrationAssociations"] == []
        await ai.delete_event_integration(Name="team/acme.orders")
        assert (await ai.list_event_integrations())["EventIntegrations"] == []
