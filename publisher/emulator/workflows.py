"""Emulated Customer Profiles integration workflows (AppFlow historical imports)."""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from publisher.emulator import restjson as rest
from publisher.emulator.profiles import (
    BAD,
    FLOW_NAME_PATTERN,
    PAGING,
    ROLE_ARN_PATTERN,
    TYPE_NAME_PATTERN,
    Workflow,
    domain_key,
)

if TYPE_CHECKING:
    from publisher.emulator.state import EmulatorState

WORKFLOW_TYPE = "APPFLOW_INTEGRATION"
WORKFLOW_ID_PATTERN = re.compile(r"[a-f0-9]{32}")
# botocore's SourceConnectorType enum.
CONNECTOR_TYPES = ("Salesforce", "Marketo", "Zendesk", "Servicenow", "S3")
_FLOW_REQUIRED = ("FlowName", "KmsArn", "SourceFlowConfig", "Tasks", "TriggerConfig")


def _flow_definition(body: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    config = body.get("IntegrationConfig")
    appflow = config.get("AppflowIntegration") if isinstance(config, dict) else None
    flow = appflow.get("FlowDefinition") if isinstance(appflow, dict) else None
    if not isinstance(flow, dict):
        errors.append("IntegrationConfig.AppflowIntegration.FlowDefinition is required")
        return {}
    errors.extend(f"FlowDefinition.{k} is required" for k in _FLOW_REQUIRED if k not in flow)
    if "FlowName" in flow:
        rest.check_string(flow, "FlowName", errors, pattern=FLOW_NAME_PATTERN, max_len=256)
    source = flow.get("SourceFlowConfig")
    if isinstance(source, dict) and source.get("ConnectorType") not in CONNECTOR_TYPES:
        errors.append(
            f"SourceFlowConfig.ConnectorType {source.get('ConnectorType')!r} must be one of "
            + ", ".join(CONNECTOR_TYPES)
        )
    return flow


def create_integration_workflow(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    domain, body = domain_key(state, request), request.body
    errors: list[str] = []
    if body.get("WorkflowType") != WORKFLOW_TYPE:
        errors.append(f"WorkflowType must be {WORKFLOW_TYPE}")
    rest.check_string(body, "ObjectTypeName", errors, pattern=TYPE_NAME_PATTERN)
    role_arn = rest.check_string(body, "RoleArn", errors, pattern=ROLE_ARN_PATTERN, max_len=512)
    rest.check_tags(body, errors, max_tags=50)
    flow = _flow_definition(body, errors)
    rest.raise_if_any(errors, BAD)
    batches = body["IntegrationConfig"]["AppflowIntegration"].get("Batches") or []
    workflow = Workflow(uuid.uuid4().hex, flow, str(role_arn), max(1, len(batches)), time.time())
    state.profiles.workflows[domain][workflow.workflow_id] = workflow
    return {"WorkflowId": workflow.workflow_id, "Message": "Workflow creation request received."}


def _workflow(state: EmulatorState, request: rest.RestRequest) -> Workflow:
    domain = domain_key(state, request)
    workflow_id = request.params["WorkflowId"]
    if WORKFLOW_ID_PATTERN.fullmatch(workflow_id) is None:
        raise rest.error(BAD, f"WorkflowId {workflow_id} must match [a-f0-9]{{32}}.")
    workflow = state.profiles.workflows[domain].get(workflow_id)
    if workflow is None:
        raise rest.error(
            "ResourceNotFoundException", f"Workflow {request.params['WorkflowId']} not found."
        )
    return workflow


def _steps_completed(workflow: Workflow) -> int:
    if workflow.status == "COMPLETE":
        return workflow.total_steps
    return workflow.total_steps // 2 if workflow.status in ("IN_PROGRESS", "FAILED") else 0


def get_workflow(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    workflow = _workflow(state, request)
    source = workflow.flow.get("SourceFlowConfig") or {}
    result: dict[str, Any] = {
        "WorkflowId": workflow.workflow_id,
        "WorkflowType": WORKFLOW_TYPE,
        "Status": workflow.status,
        "StartDate": workflow.created_at,
        "LastUpdatedAt": time.time(),
        "Attributes": {"AppflowIntegration": {
            "SourceConnectorType": source.get("ConnectorType", "Salesforce"),
            "ConnectorProfileName": source.get("ConnectorProfileName", "default"),
            "RoleArn": workflow.role_arn,
        }},
        "Metrics": {"AppflowIntegration": {
            "RecordsProcessed": 100 * _steps_completed(workflow),
            "StepsCompleted": _steps_completed(workflow),
            "TotalSteps": workflow.total_steps,
        }},
    }  # fmt: skip
    if workflow.status == "FAILED":
        result["ErrorDescription"] = f"Flow {workflow.flow.get('FlowName')} failed."
    workflow.polls += 1  # each look moves the import on, so a watcher sees every status
    return result


def _step_status(workflow: Workflow, index: int) -> str:
    done = _steps_completed(workflow)
    if index < done:
        return "COMPLETE"
    if index == done and workflow.status in ("IN_PROGRESS", "FAILED"):
        return workflow.status
    return "NOT_STARTED"


def get_workflow_steps(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    workflow = _workflow(state, request)
    items = [
        {"AppflowIntegration": {
            "FlowName": f"{workflow.flow.get('FlowName')}-{index + 1}",
            "Status": _step_status(workflow, index),
            "ExecutionMessage": _step_status(workflow, index).replace("_", " ").lower(),
            "RecordsProcessed": 100 if _step_status(workflow, index) == "COMPLETE" else 0,
            "BatchRecordsStartTime": "-", "BatchRecordsEndTime": "-",
            "CreatedAt": workflow.created_at, "LastUpdatedAt": time.time(),
        }}
        for index in range(workflow.total_steps)
    ]  # fmt: skip
    return {"WorkflowId": workflow.workflow_id, "WorkflowType": WORKFLOW_TYPE, "Items": items}


def list_workflows(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    workflows = state.profiles.workflows[domain_key(state, request)]

    def item(workflow_id: str) -> dict[str, Any]:
        workflow = workflows[workflow_id]
        return {"WorkflowType": WORKFLOW_TYPE, "WorkflowId": workflow_id,
                "Status": workflow.status, "StatusDescription": workflow.status.lower(),
                "CreatedAt": workflow.created_at, "LastUpdatedAt": workflow.created_at}  # fmt: skip

    return rest.paged("Items", sorted(workflows), item, request.query, PAGING)


ROUTES: list[rest.Route] = [
    rest.route(
        "CreateIntegrationWorkflow",
        "POST",
        "/domains/{DomainName}/workflows/integrations",
        create_integration_workflow,
    ),
    rest.route("ListWorkflows", "POST", "/domains/{DomainName}/workflows", list_workflows),
    rest.route("GetWorkflow", "GET", "/domains/{DomainName}/workflows/{WorkflowId}", get_workflow),
    rest.route(
        "GetWorkflowSteps",
        "GET",
        "/domains/{DomainName}/workflows/{WorkflowId}/steps",
        get_workflow_steps,
    ),
]
