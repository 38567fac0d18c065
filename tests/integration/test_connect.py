"""`connect` against the emulator: each step, re-runs, mismatches, AWS errors, verify."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from publisher.cli import main
from publisher.connect import bus, event_integrations, profiles, workflows
from publisher.connect.calls import AwsTarget, Clients, ConnectError, open_clients
from publisher.connect.verify import FAIL, PASS, ChainQuery, verify_chain
from publisher.emulator import EmulatorOptions, RunningEmulator, running_emulator
from publisher.emulator.accounts import PARTNER_ACCOUNT
from publisher.emulator.appintegrations import EventIntegration
from publisher.emulator.sources import SourceState
from tests.integration.connect_support import (
    ACCOUNT,
    DOMAIN,
    ROLE_ARN,
    SOURCE,
    associate,
    create_domain,
    flow,
    queue_errors,
)

SPEC = event_integrations.EventIntegrationSpec("acme-orders", SOURCE, SOURCE, "orders")


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # `connect` is the customer's side: the emulator's customer account, 111122223333.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "customer")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "PUBLISHER_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def named(emu: RunningEmulator, name: str) -> EventIntegration:
    integration = emu.state.app_integrations.named(name)
    assert integration is not None
    return integration


@asynccontextmanager
async def emulator_and_clients() -> AsyncIterator[tuple[RunningEmulator, Clients]]:
    options = EmulatorOptions(secret_access_key="testing")
    async with (
        running_emulator(options) as emu,
        open_clients(AwsTarget("us-east-1", None, emu.url)) as clients,
    ):
        yield emu, clients


async def test_bus_created_then_exists() -> None:
    async with emulator_and_clients() as (emu, clients):
        events = await clients.events()
        with pytest.raises(ConnectError) as missing:
            await bus.ensure_partner_bus(events, SOURCE)
        assert missing.value.code == "ResourceNotFoundException"
        emu.state.sources.create(SOURCE, ACCOUNT, PARTNER_ACCOUNT)
        first = await bus.ensure_partner_bus(events, SOURCE)
        again = await bus.ensure_partner_bus(events, SOURCE)
        assert (first.status, again.status) == ("created", "exists")
        assert first.arn == again.arn == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{SOURCE}"
        assert emu.state.sources.live(SOURCE).state is SourceState.ACTIVE


async def test_event_integration_idempotent_mismatch_and_delete() -> None:
    async with emulator_and_clients() as (emu, clients):
        caller = await clients.appintegrations()
        created = await event_integrations.create(caller, SPEC)
        again = await event_integrations.create(caller, SPEC)
        assert (created.status, again.status) == ("created", "exists")
        assert created.arn == again.arn
        other = event_integrations.EventIntegrationSpec("acme-orders", SOURCE, "other-bus")
        with pytest.raises(ConnectError) as mismatch:
            await event_integrations.create(caller, other)
        assert "different definition" in mismatch.value.message
        assert "bus is" in mismatch.value.message
        assert [i["Name"] for i in await event_integrations.list_all(caller)] == ["acme-orders"]
        assert await associate(emu.url, "acme-orders") == 200
        with pytest.raises(ConnectError) as refused:
            await event_integrations.delete(caller, "acme-orders")
        assert "still has 1 association(s) (ConnectTasks)" in refused.value.message
        emu.state.app_integrations.disassociate(named(emu, "acme-orders"), "ConnectTasks")
        assert await event_integrations.delete(caller, "acme-orders") == "deleted"
        assert await event_integrations.delete(caller, "acme-orders") == "absent"
        recreated = await event_integrations.create(caller, SPEC)  # same token after a delete
        assert recreated.status == "created"


async def test_same_client_token_for_the_same_request() -> None:
    assert (
        SPEC.client_token()
        == event_integrations.EventIntegrationSpec(
            "acme-orders", SOURCE, SOURCE, "orders"
        ).client_token()
    )
    assert (
        SPEC.client_token()
        != event_integrations.EventIntegrationSpec(
            "acme-orders", SOURCE, SOURCE, "other"
        ).client_token()
    )


async def test_throttling_retried_and_other_errors_reported() -> None:
    async with emulator_and_clients() as (emu, clients):
        caller = await clients.appintegrations()
        await queue_errors(
            emu.url, "CreateEventIntegration", "ThrottlingException", "InternalServiceError"
        )
        assert (await event_integrations.create(caller, SPEC)).status == "created"
        for code in ("AccessDeniedException", "ResourceQuotaExceededException"):
            await queue_errors(emu.url, "ListEventIntegrations", code)
            with pytest.raises(ConnectError) as failed:
                await event_integrations.list_all(caller)
            assert failed.value.code == code
        await queue_errors(emu.url, "GetEventIntegration", *["InternalServiceError"] * 5)
        with pytest.raises(ConnectError) as exhausted:
            await event_integrations.get(caller, "acme-orders")
        assert exhausted.value.code == "InternalServiceError"


async def test_profiles_attach_get_and_workflows() -> None:
    async with emulator_and_clients() as (emu, clients):
        arn = (await event_integrations.create(await clients.appintegrations(), SPEC)).arn
        caller = await clients.profiles()
        spec = profiles.AttachSpec(DOMAIN, arn, {"SegmentIdentify": "Segment_Identify"})
        with pytest.raises(ConnectError) as no_domain:
            await profiles.attach(caller, spec)
        assert no_domain.value.code == "ResourceNotFoundException"
        await create_domain(emu.url)
        statuses = [(await profiles.attach(caller, spec))[1] for _ in range(2)]
        changed = profiles.AttachSpec(DOMAIN, arn, {"ShopifyCreateOrders": "Order"})
        assert [*statuses, (await profiles.attach(caller, changed))[1]] == [
            "created", "exists", "updated"
        ]  # fmt: skip
        got = await profiles.get(caller, DOMAIN, arn)
        assert got["ObjectTypeNames"] == {"ShopifyCreateOrders": "Order"}
        assert {"DomainName", "Uri", "CreatedAt", "LastUpdatedAt", "IsUnstructured"} <= set(got)

        ok = workflows.WorkflowSpec(DOMAIN, "Account", ROLE_ARN, flow())
        first, again = await workflows.create(caller, ok), await workflows.create(caller, ok)
        assert first[1] == "created"
        assert again == (first[0], "exists")
        seen: list[str] = []
        final = await workflows.watch(
            caller, DOMAIN, first[0], 0.01, lambda p: seen.append(p.status)
        )
        assert (final.status, seen) == ("COMPLETE", ["NOT_STARTED", "IN_PROGRESS", "COMPLETE"])
        failing = workflows.WorkflowSpec(DOMAIN, "Account", ROLE_ARN, flow("fail-import"))
        failed_id, _ = await workflows.create(caller, failing)
        failed = await workflows.watch(caller, DOMAIN, failed_id, 0.01, lambda p: None)
        assert failed.status == "FAILED"
        assert failed.error is not None
        assert "fail-import" in failed.error


async def test_verify_red_at_each_missing_link_then_green() -> None:
    async with emulator_and_clients() as (emu, clients):
        query = ChainQuery(SOURCE, DOMAIN, ACCOUNT)

        async def first_failure() -> tuple[int, str | None]:
            checks = await verify_chain(clients, query)
            failing = [i for i, c in enumerate(checks) if c.result == FAIL]
            return (failing[0], checks[failing[0]].fix) if failing else (-1, None)

        index, fix = await first_failure()
        assert index == 0
        assert fix == f"partner-publisher sources create --name {SOURCE} --account {ACCOUNT}"
        emu.state.sources.create(SOURCE, ACCOUNT, PARTNER_ACCOUNT)
        assert (await first_failure()) == (0, f"partner-publisher connect bus --source {SOURCE}")
        await bus.ensure_partner_bus(await clients.events(), SOURCE)
        index, fix = await first_failure()
        assert index == 2
        assert fix is not None
        assert "event-integration create" in fix
        arn = (await event_integrations.create(await clients.appintegrations(), SPEC)).arn
        index, fix = await first_failure()
        # The domain is missing: attaching would fail, so the fix creates it first.
        assert (index, fix) == (3, f"partner-publisher connect domain create --domain {DOMAIN}")
        await associate(emu.url, "acme-orders")
        index, fix = await first_failure()
        assert (index, fix) == (4, f"partner-publisher connect domain create --domain {DOMAIN}")
        await create_domain(emu.url)
        index, fix = await first_failure()
        assert index == 4
        assert fix is not None
        assert f"profiles attach --domain {DOMAIN} --event-integration {arn}" in fix
        spec = profiles.AttachSpec(DOMAIN, arn, {"SegmentIdentify": "Segment_Identify"})
        await profiles.attach(await clients.profiles(), spec)
        checks = await verify_chain(clients, query)
        assert [c.result for c in checks] == [PASS] * 6


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(main, ["--log-level", "error", *argv])


async def test_cli_outputs_and_aws_error_messages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with emulator_and_clients() as (emu, _):
        endpoint = ["--endpoint-url", emu.url, "--output", "json"]
        emu.state.sources.create(SOURCE, ACCOUNT, PARTNER_ACCOUNT)
        assert await run_cli("connect", "bus", "--source", SOURCE, *endpoint) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "created"
        await queue_errors(emu.url, "CreateEventIntegration", "AccessDeniedException")
        create = ["connect", "event-integration", "create", "--name", "acme", "--source", SOURCE]
        assert await run_cli(*create, *endpoint) == 1
        err = capsys.readouterr().err
        assert "AccessDeniedException" in err
        assert "IAM policy" in err
        assert await run_cli(*create, *endpoint) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "created"
        assert (
            await run_cli("connect", "event-integration", "get", "--name", "nope", *endpoint) == 1
        )
        assert "ResourceNotFoundException" in capsys.readouterr().err
        await create_domain(emu.url)
        arn = named(emu, "acme").arn
        attach = ["connect", "profiles", "attach", "--domain", DOMAIN, "--event-integration", arn]
        assert await run_cli(*attach, "--object-type-names", "SegmentIdentify=Seg", *endpoint) == 0
        capsys.readouterr()
        get = ["connect", "profiles", "get", "--domain", DOMAIN, "--uri", arn, "--output", "table"]
        assert await run_cli(*get, "--endpoint-url", emu.url) == 0
        table = capsys.readouterr().out
        for field in profiles.GET_INTEGRATION_FIELDS:
            assert field in table
        assert "SegmentIdentify=Seg" in table
        assert "T" in table.split("CreatedAt")[1].split("\n")[0]  # an ISO date, not a number
        flow_file = tmp_path / "flow.json"
        flow_file.write_text(json.dumps(flow("fail-now")))
        made = ["connect", "workflow", "create", "--domain", DOMAIN, "--object-type", "Account"]
        assert (
            await run_cli(*made, "--role-arn", ROLE_ARN, "--flow", str(flow_file), *endpoint) == 0
        )
        workflow_id = json.loads(capsys.readouterr().out)["workflow_id"]
        status = ["connect", "workflow", "status", "--domain", DOMAIN, "--id", workflow_id]
        assert await run_cli(*status, "--watch", "--interval", "0.01", *endpoint) == 1
        captured = capsys.readouterr()
        assert json.loads(captured.out)["status"] == "FAILED"
        assert "NOT_STARTED" in captured.err
        assert "FAILED" in captured.err


async def test_cli_list_associations_and_delete_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    async with emulator_and_clients() as (emu, clients):
        await event_integrations.create(await clients.appintegrations(), SPEC)
        await associate(emu.url, "acme-orders", "CustomerProfiles")
        endpoint = ["--endpoint-url", emu.url]
        assert await run_cli("connect", "event-integration", "list", *endpoint) == 0
        listing = capsys.readouterr().out
        assert listing.splitlines()[0].split() == ["NAME", "SOURCE", "BUS", "ARN"]
        assert f"acme-orders  {SOURCE}" in listing
        names = ["--name", "acme-orders", *endpoint, "--output", "json"]
        assert await run_cli("connect", "event-integration", "associations", *names) == 0
        assert json.loads(capsys.readouterr().out)["client_id"] == "CustomerProfiles"
        assert await run_cli("connect", "event-integration", "delete", *names) == 1
        err = capsys.readouterr().err
        assert "still has 1 association(s) (CustomerProfiles)" in err
        assert "AWS refuses to delete it" in err
        emu.state.app_integrations.disassociate(named(emu, "acme-orders"), "CustomerProfiles")
        assert await run_cli("connect", "event-integration", "delete", *names) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "deleted"
        assert await run_cli("connect", "event-integration", "delete", *names) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "absent"
