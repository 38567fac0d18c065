"""Every emulated operation through boto3, each answer checked against botocore's service model.

boto3's parameter validation is on for the calls that should succeed, so the requests are
what botocore allows; the answers must then fit the operation's output shape (members,
required members, types, enums, patterns, lengths). The AWS rules botocore leaves to the
server are sent with validation off and must be refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from publisher.emulator.operations import OPERATIONS
from publisher.emulator.rest_calls import SERVICES
from tests.conftest import emulator_process
from tests.integration.connect_support import DOMAIN, ROLE_ARN, flow
from tests.integration.model_check import problems

SOURCE = "aws.partner/example.com/acme/orders"
CUSTOMER = "111122223333"
Clients = dict[str, BaseClient]


def _client(url: str, service: str, key: str, validate: bool = True) -> BaseClient:
    return boto3.session.Session().client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate),
    )


@pytest.fixture(scope="module")
def clients() -> Iterator[Clients]:
    with emulator_process() as url:
        yield {
            "partner": _client(url, "events", "partner"),
            "events": _client(url, "events", "customer"),
            "appintegrations": _client(url, "appintegrations", "customer"),
            "profiles": _client(url, "customer-profiles", "customer"),
            "raw_appintegrations": _client(url, "appintegrations", "customer", validate=False),
            "raw_profiles": _client(url, "customer-profiles", "customer", validate=False),
        }


class Driver:
    """Calls operations and checks each answer against the model; remembers what it drove."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.driven: set[str] = set()

    def call(self, client_name: str, operation: str, **params: Any) -> dict[str, Any]:
        client = self.clients[client_name]
        model = client.meta.service_model.operation_model(operation)
        answer: dict[str, Any] = getattr(client, _snake(client, operation))(**params)
        if model.output_shape is not None:
            assert problems(answer, model.output_shape) == [], operation
        self.driven.add(operation)
        return answer


def _snake(client: BaseClient, operation: str) -> str:
    names: dict[str, str] = {v: k for k, v in client.meta.method_to_api_mapping.items()}
    return names[operation]


def _partner_side(drive: Driver) -> None:
    call: Callable[..., dict[str, Any]] = drive.call
    call("partner", "CreatePartnerEventSource", Name=SOURCE, Account=CUSTOMER)
    call("partner", "DescribePartnerEventSource", Name=SOURCE)
    call("partner", "ListPartnerEventSources", NamePrefix="aws.partner/example.com/", Limit=5)
    call("partner", "ListPartnerEventSourceAccounts", EventSourceName=SOURCE)
    call("events", "DescribeEventSource", Name=SOURCE)
    bus = call("events", "CreateEventBus", Name=SOURCE, EventSourceName=SOURCE)
    call("events", "DescribeEventBus", Name=bus["EventBusArn"])
    call("events", "DeactivateEventSource", Name=SOURCE)
    call("events", "ActivateEventSource", Name=SOURCE)
    entry = {"Source": SOURCE, "DetailType": "OrderCreated", "Detail": '{"n": 1}'}
    sent = call("partner", "PutPartnerEvents", Entries=[entry])
    assert sent["FailedEntryCount"] == 0


def _connect_side(drive: Driver) -> None:
    call = drive.call
    created = call(
        "appintegrations", "CreateEventIntegration", Name="acme-orders",
        EventFilter={"Source": SOURCE}, EventBridgeBus=SOURCE, Tags={"team": "crm"},
    )  # fmt: skip
    arn = created["EventIntegrationArn"]
    assert f":{CUSTOMER}:event-integration/" in arn
    call("appintegrations", "GetEventIntegration", Name="acme-orders")
    call("appintegrations", "ListEventIntegrations")
    call("profiles", "CreateDomain", DomainName=DOMAIN, DefaultExpirationDays=30)
    call("profiles", "GetDomain", DomainName=DOMAIN)
    call(
        "profiles", "PutIntegration", DomainName=DOMAIN, Uri=arn,
        ObjectTypeNames={"SegmentIdentify": "Segment_Identify"},
    )  # fmt: skip
    call("appintegrations", "ListEventIntegrationAssociations", EventIntegrationName="acme-orders")
    call("profiles", "GetIntegration", DomainName=DOMAIN, Uri=arn)
    call("profiles", "ListIntegrations", DomainName=DOMAIN)
    workflow = call(
        "profiles", "CreateIntegrationWorkflow", DomainName=DOMAIN,
        WorkflowType="APPFLOW_INTEGRATION", ObjectTypeName="Account", RoleArn=ROLE_ARN,
        IntegrationConfig={"AppflowIntegration": {"FlowDefinition": flow()}},
    )  # fmt: skip
    for _ in range(3):
        call("profiles", "GetWorkflow", DomainName=DOMAIN, WorkflowId=workflow["WorkflowId"])
    call("profiles", "GetWorkflowSteps", DomainName=DOMAIN, WorkflowId=workflow["WorkflowId"])
    call("profiles", "ListWorkflows", DomainName=DOMAIN)
    call("profiles", "DeleteIntegration", DomainName=DOMAIN, Uri=arn)
    call("appintegrations", "DeleteEventIntegration", Name="acme-orders")
    call("events", "DeleteEventBus", Name=SOURCE)
    call("partner", "DeletePartnerEventSource", Name=SOURCE, Account=CUSTOMER)


def test_every_emulated_operation_answers_as_the_model_says(clients: Clients) -> None:
    drive = Driver(clients)
    _partner_side(drive)
    _connect_side(drive)
    emulated = set(OPERATIONS)
    for routes, _ in SERVICES.values():
        emulated |= {found.operation for found in routes}
    assert emulated - drive.driven == set()


def _refused(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_rules_botocore_leaves_to_the_server_are_enforced(clients: Clients) -> None:
    # (An EventBusName member cannot even be serialized by botocore: the raw-call test in
    # test_emulator_put_events sends it.)
    ai, cp = clients["raw_appintegrations"], clients["raw_profiles"]
    code, message = _refused(
        lambda: ai.create_event_integration(
            Name="tagless", EventFilter={"Source": SOURCE}, EventBridgeBus=SOURCE, Tags={}
        )
    )
    assert code == "InvalidRequestException"
    assert "Tags must be a map of 1 to 200 entries" in message
    cp.create_domain(DomainName="rules", DefaultExpirationDays=1)
    bad_flow = flow()
    bad_flow["SourceFlowConfig"]["ConnectorType"] = "Dropbox"
    code, message = _refused(
        lambda: cp.create_integration_workflow(
            DomainName="rules",
            WorkflowType="APPFLOW_INTEGRATION",
            ObjectTypeName="Account",
            RoleArn=ROLE_ARN,
            IntegrationConfig={"AppflowIntegration": {"FlowDefinition": bad_flow}},
        )
    )
    assert code == "BadRequestException"
    assert "ConnectorType 'Dropbox' must be one of Salesforce" in message
    code, message = _refused(lambda: cp.get_workflow(DomainName="rules", WorkflowId="not-an-id"))
    assert code == "BadRequestException"
    assert "[a-f0-9]{32}" in message
    code, _ = _refused(lambda: cp.get_workflow(DomainName="rules", WorkflowId="0" * 32))
    assert code == "ResourceNotFoundException"  # well-formed but unknown: not found
