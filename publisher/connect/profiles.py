"""Customer Profiles integrations whose Uri is an event integration's ARN."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from publisher.connect import validation
from publisher.connect.calls import Caller, ConnectError

GET_INTEGRATION_FIELDS = (
    "DomainName",
    "Uri",
    "ObjectTypeName",
    "ObjectTypeNames",
    "CreatedAt",
    "LastUpdatedAt",
    "Tags",
    "WorkflowId",
    "IsUnstructured",
    "RoleArn",
    "EventTriggerNames",
)


@dataclass(frozen=True, slots=True)
class AttachSpec:
    """What `connect profiles attach` asks for."""

    domain: str
    uri: str
    object_type_names: dict[str, str] = field(default_factory=dict)
    object_type_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        validation.check_domain(self.domain)
        validation.check_uri(self.uri)
        validation.check_object_type_names(self.object_type_names)
        if self.object_type_name is not None:
            validation.check_object_type_name(self.object_type_name)
        if not self.object_type_names and self.object_type_name is None:
            raise ValueError(
                "give --object-type-names KEY=TYPE (keys: "
                + ", ".join(validation.OBJECT_TYPE_KEYS)
                + ") or --object-type-name TYPE"
            )
        validation.check_tags(self.tags, validation.MAX_PROFILES_TAGS)

    def request(self) -> dict[str, Any]:
        body: dict[str, Any] = {"DomainName": self.domain, "Uri": self.uri}
        if self.object_type_names:
            body["ObjectTypeNames"] = dict(self.object_type_names)
        if self.object_type_name is not None:
            body["ObjectTypeName"] = self.object_type_name
        if self.tags:
            body["Tags"] = dict(self.tags)
        return body

    def matches(self, existing: dict[str, Any]) -> bool:
        return (
            (existing.get("ObjectTypeNames") or {}) == self.object_type_names
            and existing.get("ObjectTypeName") == self.object_type_name
            and all((existing.get("Tags") or {}).get(k) == v for k, v in self.tags.items())
        )


async def attach(caller: Caller, spec: AttachSpec) -> tuple[dict[str, Any], str]:
    """PutIntegration unless the same definition is already there: (integration, status)."""
    spec.validate()
    existing = await find(caller, spec.domain, spec.uri)
    if existing is not None and spec.matches(existing):
        return existing, "exists"
    reply = await caller("put_integration", **spec.request())
    reply.pop("ResponseMetadata", None)
    return reply, "updated" if existing is not None else "created"


async def get(caller: Caller, domain: str, uri: str) -> dict[str, Any]:
    validation.check_domain(domain)
    validation.check_uri(uri)
    reply = await caller("get_integration", DomainName=domain, Uri=uri)
    return {key: reply[key] for key in GET_INTEGRATION_FIELDS if key in reply}


async def find(caller: Caller, domain: str, uri: str) -> dict[str, Any] | None:
    """GetIntegration, or None when the domain has no integration with that Uri."""
    try:
        return await get(caller, domain, uri)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise


DEFAULT_EXPIRATION_DAYS = 366


async def domain_exists(caller: Caller, domain: str) -> bool:
    """GetDomain: whether the Customer Profiles domain exists in this account and Region."""
    try:
        await caller("get_domain", DomainName=domain)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return False
        raise
    return True


async def ensure_domain(caller: Caller, domain: str, expiration_days: int) -> str:
    """CreateDomain unless it exists: "created" or "exists"."""
    validation.check_domain(domain)
    if not 1 <= expiration_days <= 1098:
        raise ValueError("--expiration-days must be from 1 to 1098 (AWS's range)")
    if await domain_exists(caller, domain):
        return "exists"
    await caller("create_domain", DomainName=domain, DefaultExpirationDays=expiration_days)
    return "created"
