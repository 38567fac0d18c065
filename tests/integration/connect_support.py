"""Helpers for the connect tests: emulator control calls and a flow definition."""

from __future__ import annotations

from typing import Any

from tests.integration.emulator_support import control

SOURCE = "aws.partner/example.com/acme/orders"
ACCOUNT = "111122223333"
DOMAIN = "acme-profiles"
ROLE_ARN = "arn:aws:iam::111122223333:role/profiles-import"


def flow(name: str = "sf-import") -> dict[str, Any]:
    """A complete FlowDefinition as CreateIntegrationWorkflow requires it."""
    return {
        "FlowName": name,
        "KmsArn": "arn:aws:kms:us-east-1:111122223333:key/abcd",
        "SourceFlowConfig": {
            "ConnectorType": "Salesforce",
            "ConnectorProfileName": "salesforce",
            "SourceConnectorProperties": {"Salesforce": {"Object": "Account"}},
        },
        "Tasks": [{"SourceFields": ["Id"], "TaskType": "Map", "DestinationField": "Id"}],
        "TriggerConfig": {"TriggerType": "OnDemand"},
    }


async def create_domain(url: str, name: str = DOMAIN) -> None:
    status, _ = await control(url, "POST", "/_emulator/domains", {"name": name})
    assert status == 200


async def queue_errors(url: str, operation: str, *codes: str) -> None:
    status, _ = await control(
        url, "POST", "/_emulator/rest-faults", {"operation": operation, "codes": list(codes)}
    )
    assert status == 200


async def associate(url: str, name: str, client_id: str = "ConnectTasks") -> int:
    status, _ = await control(
        url, "POST", "/_emulator/associations", {"event_integration": name, "client_id": client_id}
    )
    return status
