"""Customer Profiles integration workflows: the historical import through AppFlow.

CreateIntegrationWorkflow has no idempotency token, so before creating one the live
workflows of the domain are checked for a step running the same flow (step flow names start
with the FlowName); a re-run then reports that workflow instead of importing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from publisher.connect import validation
from publisher.connect.calls import Caller

WORKFLOW_TYPE = "APPFLOW_INTEGRATION"
TERMINAL = frozenset({"COMPLETE", "FAILED", "CANCELLED"})
_FINISHED_BADLY = frozenset({"FAILED", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    domain: str
    object_type: str
    role_arn: str
    flow: dict[str, Any]

    def validate(self) -> None:
        validation.check_domain(self.domain)
        validation.check_object_type_name(self.object_type, "object type")
        validation.check_role_arn(self.role_arn)
        validation.check_flow_definition(self.flow)


@dataclass(frozen=True, slots=True)
class WorkflowProgress:
    """One look at a workflow: status, steps done of total, records, error."""

    workflow_id: str
    status: str
    steps_completed: int
    total_steps: int
    records_processed: int
    error: str | None
    steps: list[dict[str, Any]]

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


async def create(caller: Caller, spec: WorkflowSpec) -> tuple[str, str]:
    """(workflow id, "created" or "exists")."""
    spec.validate()
    running = await _running_for_flow(caller, spec.domain, str(spec.flow["FlowName"]))
    if running is not None:
        return running, "exists"
    reply = await caller(
        "create_integration_workflow",
        DomainName=spec.domain,
        WorkflowType=WORKFLOW_TYPE,
        IntegrationConfig={"AppflowIntegration": {"FlowDefinition": spec.flow}},
        ObjectTypeName=spec.object_type,
        RoleArn=spec.role_arn,
    )
    return str(reply["WorkflowId"]), "created"


async def _running_for_flow(caller: Caller, domain: str, flow_name: str) -> str | None:
    reply = await caller("list_workflows", DomainName=domain, WorkflowType=WORKFLOW_TYPE)
    for item in reply.get("Items", []):
        if item.get("Status") in _FINISHED_BADLY:
            continue
        steps = await caller("get_workflow_steps", DomainName=domain, WorkflowId=item["WorkflowId"])
        names = [str(s.get("AppflowIntegration", {}).get("FlowName", "")) for s in steps["Items"]]
        if any(name == flow_name or name.startswith(flow_name + "-") for name in names):
            return str(item["WorkflowId"])
    return None


async def progress(caller: Caller, domain: str, workflow_id: str) -> WorkflowProgress:
    validation.check_domain(domain)
    validation.check_workflow_id(workflow_id)
    workflow = await caller("get_workflow", DomainName=domain, WorkflowId=workflow_id)
    steps = await caller("get_workflow_steps", DomainName=domain, WorkflowId=workflow_id)
    metrics = workflow.get("Metrics", {}).get("AppflowIntegration", {})
    return WorkflowProgress(
        workflow_id=workflow_id,
        status=str(workflow.get("Status", "UNKNOWN")),
        steps_completed=int(metrics.get("StepsCompleted", 0)),
        total_steps=int(metrics.get("TotalSteps", 0)),
        records_processed=int(metrics.get("RecordsProcessed", 0)),
        error=workflow.get("ErrorDescription"),
        steps=[s.get("AppflowIntegration", {}) for s in steps.get("Items", [])],
    )


async def watch(
    caller: Caller,
    domain: str,
    workflow_id: str,
    interval_s: float,
    on_progress: Callable[[WorkflowProgress], None],
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> WorkflowProgress:
    """Poll until the workflow reaches COMPLETE, FAILED or CANCELLED."""
    pause = sleep or asyncio.sleep
    while True:
        current = await progress(caller, domain, workflow_id)
        on_progress(current)
        if current.finished:
            return current
        await pause(interval_s)
