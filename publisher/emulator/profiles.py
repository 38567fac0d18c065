"""Emulated Amazon Connect Customer Profiles: domains, integrations, integration workflows.

A PutIntegration whose Uri is an event integration's ARN associates that event integration
(client `CustomerProfiles`), as the real service does when it subscribes to it. Workflows
advance one status per GetWorkflow (NOT_STARTED, IN_PROGRESS, COMPLETE); a flow whose
FlowName starts with "fail" ends FAILED instead, so progress displays can be tested.
Domains belong to the calling account; an event integration of another account is not found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from publisher.connect.validation import OBJECT_TYPE_KEYS
from publisher.emulator import restjson as rest

if TYPE_CHECKING:
    from publisher.emulator.state import EmulatorState

BAD = "BadRequestException"
PAGING = rest.Paging("next-token", "max-results", 100, BAD)
DOMAIN_PATTERN = r"[a-zA-Z0-9_-]+"
TYPE_NAME_PATTERN = r"[a-zA-Z_][a-zA-Z_0-9-]*"
ROLE_ARN_PATTERN = r"arn:aws:iam:.*:[0-9]+:.*"
FLOW_NAME_PATTERN = r"[a-zA-Z0-9][\w!@#.-]+"
PROFILES_CLIENT_ID = "CustomerProfiles"
_PROGRESS = ("NOT_STARTED", "IN_PROGRESS", "COMPLETE")
DomainKey = tuple[str, str]  # (account, domain name)


@dataclass(slots=True)
class Workflow:
    workflow_id: str
    flow: dict[str, Any]
    role_arn: str
    total_steps: int
    created_at: float
    polls: int = 0

    @property
    def fails(self) -> bool:
        return str(self.flow.get("FlowName", "")).startswith("fail")

    @property
    def status(self) -> str:
        if self.polls >= len(_PROGRESS) - 1 and self.fails:
            return "FAILED"
        return _PROGRESS[min(self.polls, len(_PROGRESS) - 1)]


@dataclass(slots=True)
class ProfilesStore:
    domains: dict[DomainKey, float] = field(default_factory=dict)
    integrations: dict[DomainKey, dict[str, dict[str, Any]]] = field(default_factory=dict)
    workflows: dict[DomainKey, dict[str, Workflow]] = field(default_factory=dict)

    def create_domain(self, key: DomainKey) -> float:
        self.integrations.setdefault(key, {})
        self.workflows.setdefault(key, {})
        return self.domains.setdefault(key, time.time())

    def clear(self) -> None:
        self.domains.clear()
        self.integrations.clear()
        self.workflows.clear()


def domain_key(state: EmulatorState, request: rest.RestRequest) -> DomainKey:
    """The caller's existing domain named in the path."""
    name = request.params["DomainName"]
    errors: list[str] = []
    rest.check_string(
        {"DomainName": name}, "DomainName", errors, pattern=DOMAIN_PATTERN, max_len=64
    )
    rest.raise_if_any(errors, BAD)
    key = (request.account, name)
    if key not in state.profiles.domains:
        raise rest.error(
            "ResourceNotFoundException", f"Domain {name} does not exist in account {key[0]}."
        )
    return key


def create_domain(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    name = request.params["DomainName"]
    errors: list[str] = []
    rest.check_string(
        {"DomainName": name}, "DomainName", errors, pattern=DOMAIN_PATTERN, max_len=64
    )
    days = request.body.get("DefaultExpirationDays")
    if not isinstance(days, int) or not 1 <= days <= 1098:
        errors.append("DefaultExpirationDays must be an integer from 1 to 1098")
    rest.raise_if_any(errors, BAD)
    if (request.account, name) in state.profiles.domains:
        raise rest.error(BAD, f"Domain {name} already exists.")
    created = state.profiles.create_domain((request.account, name))
    return {"DomainName": name, "DefaultExpirationDays": days, "CreatedAt": created,
            "LastUpdatedAt": created}  # fmt: skip


def get_domain(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    key = domain_key(state, request)
    created = state.profiles.domains[key]
    return {"DomainName": key[1], "CreatedAt": created, "LastUpdatedAt": created}


def _object_type_names(body: dict[str, Any], errors: list[str]) -> dict[str, str] | None:
    names = body.get("ObjectTypeNames")
    if names is None:
        return None
    if not isinstance(names, dict):
        errors.append("ObjectTypeNames must be a map")
        return None
    for key, value in names.items():
        if key not in OBJECT_TYPE_KEYS:
            errors.append(f"ObjectTypeNames key {key} is not supported")
        rest.check_string({key: value}, key, errors, pattern=TYPE_NAME_PATTERN)
    return dict(names)


def put_integration(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    key, body = domain_key(state, request), request.body
    domain = key[1]
    errors: list[str] = []
    uri = str(rest.check_string(body, "Uri", errors))
    type_name = rest.check_string(
        body, "ObjectTypeName", errors, pattern=TYPE_NAME_PATTERN, required=False
    )
    type_names = _object_type_names(body, errors)
    if type_name is None and type_names is None:
        errors.append("ObjectTypeName or ObjectTypeNames is required")
    tags = rest.check_tags(body, errors, max_tags=50)
    rest.raise_if_any(errors, BAD)
    event_integration = state.app_integrations.by_arn(uri)
    if event_integration is not None and event_integration.account != request.account:
        event_integration = None  # another account's: not visible to this caller
    if ":event-integration/" in uri and event_integration is None:
        raise rest.error(
            BAD, f"EventIntegration {uri} does not exist in account {request.account}."
        )
    now = time.time()
    previous = state.profiles.integrations[key].get(uri, {})
    item: dict[str, Any] = {"DomainName": domain, "Uri": uri,
                            "CreatedAt": previous.get("CreatedAt", now), "LastUpdatedAt": now,
                            "IsUnstructured": False}  # fmt: skip
    extras = {"ObjectTypeName": type_name, "ObjectTypeNames": type_names, "Tags": tags or None}
    item.update({k: v for k, v in extras.items() if v is not None})
    state.profiles.integrations[key][uri] = item
    if event_integration is not None:
        arn = f"arn:aws:profile:{state.options.region}:{request.account}:domains/{domain}"
        state.app_integrations.associate(
            event_integration, PROFILES_CLIENT_ID, arn, state.options.region
        )
    return item


def _integration(
    state: EmulatorState, request: rest.RestRequest
) -> tuple[DomainKey, dict[str, Any]]:
    key = domain_key(state, request)
    errors: list[str] = []
    uri = str(rest.check_string(request.body, "Uri", errors))
    rest.raise_if_any(errors, BAD)
    item = state.profiles.integrations[key].get(uri)
    if item is None:
        raise rest.error(
            "ResourceNotFoundException", f"No integration for {uri} in domain {key[1]}."
        )
    return key, item


def get_integration(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    return _integration(state, request)[1]


def list_integrations(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    items = state.profiles.integrations[domain_key(state, request)]
    return rest.paged("Items", sorted(items), items.__getitem__, request.query, PAGING)


def delete_integration(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    key, item = _integration(state, request)
    del state.profiles.integrations[key][item["Uri"]]
    event_integration = state.app_integrations.by_arn(item["Uri"])
    if event_integration is not None:
        state.app_integrations.disassociate(event_integration, PROFILES_CLIENT_ID)
    return {"Message": f"Integration {item['Uri']} deleted."}


ROUTES: list[rest.Route] = [
    rest.route("CreateDomain", "POST", "/domains/{DomainName}", create_domain),
    rest.route("GetDomain", "GET", "/domains/{DomainName}", get_domain),
    rest.route("PutIntegration", "PUT", "/domains/{DomainName}/integrations", put_integration),
    rest.route("GetIntegration", "POST", "/domains/{DomainName}/integrations", get_integration),
    rest.route("ListIntegrations", "GET", "/domains/{DomainName}/integrations", list_integrations),
    rest.route(
        "DeleteIntegration", "POST", "/domains/{DomainName}/integrations/delete", delete_integration
    ),
]
