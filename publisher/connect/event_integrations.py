"""Amazon AppIntegrations event integrations: create (idempotent), read, list, delete.

The ClientToken is derived from the request itself, so a call retried after a lost answer
cannot create a second integration and the same command run twice sends the same token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from publisher.connect import validation
from publisher.connect.calls import Caller, ConnectError

LIST_PAGE_SIZE = 50
_TOKEN_NAMESPACE = uuid.UUID("4f1d1e53-5d0b-4a37-9b7c-2f3b2f0c7a11")


@dataclass(frozen=True, slots=True)
class EventIntegrationSpec:
    """What `connect event-integration create` asks for."""

    name: str
    source: str
    bus: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        validation.check_name(self.name, "event integration name")
        validation.check_name(self.bus, "EventBridge bus")
        validation.check_source(self.source)
        validation.check_description(self.description)
        validation.check_tags(self.tags)

    def request(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Name": self.name,
            "EventFilter": {"Source": self.source},
            "EventBridgeBus": self.bus,
        }
        if self.description is not None:
            body["Description"] = self.description
        if self.tags:
            body["Tags"] = dict(self.tags)
        return body

    def client_token(self) -> str:
        canonical = orjson.dumps(self.request(), option=orjson.OPT_SORT_KEYS).decode()
        return str(uuid.uuid5(_TOKEN_NAMESPACE, canonical))

    def differences(self, existing: dict[str, Any]) -> list[str]:
        """How an existing integration of this name differs (source, bus, description)."""
        found = {
            "source": existing.get("EventFilter", {}).get("Source"),
            "bus": existing.get("EventBridgeBus"),
            "description": existing.get("Description") or None,
        }
        wanted = {"source": self.source, "bus": self.bus, "description": self.description or None}
        return [
            f"{key} is {_shown(found[key])}, not {_shown(wanted[key])}"
            for key in wanted
            if found[key] != wanted[key]
        ]


def _shown(value: object) -> str:
    return "(none)" if value is None else repr(value)


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    arn: str
    status: str


def default_name(source: str) -> str:
    """A valid integration name for a source: its parts after `aws.partner/`, dash-joined."""
    return source.removeprefix("aws.partner/").replace("/", "-")[:255]


async def create(caller: Caller, spec: EventIntegrationSpec) -> CreateOutcome:
    """Create it; the same definition already there is success, a different one an error."""
    spec.validate()
    existing = await _get_or_none(caller, spec.name)
    if existing is None:
        try:
            reply = await caller(
                "create_event_integration", **spec.request(), ClientToken=spec.client_token()
            )
        except ConnectError as exc:
            if exc.code != "DuplicateResourceException":
                raise
            existing = await get(caller, spec.name)  # created meanwhile by someone else
        else:
            return CreateOutcome(str(reply["EventIntegrationArn"]), "created")
    differences = spec.differences(existing)
    if differences:
        raise ConnectError(
            "DuplicateResourceException",
            f"event integration {spec.name} already exists with a different definition: "
            + "; ".join(differences)
            + ". Choose another --name, or delete it first.",
            "create_event_integration",
        )
    return CreateOutcome(str(existing.get("EventIntegrationArn", "")), "exists")


async def _get_or_none(caller: Caller, name: str) -> dict[str, Any] | None:
    try:
        return await get(caller, name)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise


async def get(caller: Caller, name: str) -> dict[str, Any]:
    validation.check_name(name, "event integration name")
    reply = await caller("get_event_integration", Name=name)
    reply.pop("ResponseMetadata", None)
    return reply


async def list_all(caller: Caller) -> list[dict[str, Any]]:
    """Every event integration, following NextToken."""
    return await _pages(caller, "list_event_integrations", "EventIntegrations")


async def associations(caller: Caller, name: str) -> list[dict[str, Any]]:
    validation.check_name(name, "event integration name")
    return await _pages(
        caller,
        "list_event_integration_associations",
        "EventIntegrationAssociations",
        EventIntegrationName=name,
    )


async def delete(caller: Caller, name: str) -> str:
    """Delete it ("deleted"), or "absent" when there is none; refused while it is in use."""
    in_use = [a.get("ClientId", "?") for a in await _associations_or_none(caller, name)]
    if in_use:
        raise ConnectError(
            "InvalidRequestException",
            f"event integration {name} still has {len(in_use)} association(s) "
            f"({', '.join(in_use)}); AWS refuses to delete it until the integrations that use "
            "it are removed (e.g. the Customer Profiles integration whose Uri is its ARN).",
            "delete_event_integration",
        )
    try:
        await caller("delete_event_integration", Name=name)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return "absent"
        raise
    return "deleted"


async def _associations_or_none(caller: Caller, name: str) -> list[dict[str, Any]]:
    try:
        return await associations(caller, name)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return []
        raise


def find_for_source(
    integrations: list[dict[str, Any]], source: str, bus: str
) -> dict[str, Any] | None:
    """The first integration filtering on `source` from `bus`."""
    for item in integrations:
        if (
            item.get("EventFilter", {}).get("Source") == source
            and item.get("EventBridgeBus") == bus
        ):
            return item
    return None


async def _pages(caller: Caller, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = await caller(operation, MaxResults=LIST_PAGE_SIZE, **params, **extra)
        found.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return found
