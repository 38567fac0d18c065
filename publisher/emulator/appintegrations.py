"""Emulated Amazon AppIntegrations: event integrations, their associations, ClientToken reuse.

A ClientToken seen before returns the ARN of the first call when the request is the same and
an InvalidRequestException when it differs. Deleting an event integration that still has
associations is refused (InvalidRequestException, 400), as AWS does. Each account has its
own integrations; the ARN carries the caller's account.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from publisher.emulator import restjson as rest

if TYPE_CHECKING:
    from publisher.emulator.state import EmulatorState

NAME_PATTERN = r"[a-zA-Z0-9/._-]+"
# botocore's EventFilter.Source pattern: partner sources, Cases, pipes and webhooks.
FILTER_SOURCE_PATTERN = (
    r"(aws\.(partner/.*|cases|cases-test))|Pipe\s.[a-zA-Z0-9/._-]+|"
    r"app-integrations\.webhooks/[a-zA-Z0-9\-_./]+"
)
INVALID = "InvalidRequestException"
PAGING = rest.Paging("nextToken", "maxResults", 50, INVALID)


@dataclass(slots=True)
class EventIntegration:
    name: str
    account: str
    arn: str
    source: str
    bus: str
    description: str | None
    tags: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "EventIntegrationArn": self.arn,
            "Name": self.name,
            "EventFilter": {"Source": self.source},
            "EventBridgeBus": self.bus,
        }
        if self.description is not None:
            result["Description"] = self.description
        if self.tags:
            result["Tags"] = self.tags
        return result


@dataclass(slots=True)
class AppIntegrationsStore:
    """Event integrations by (account, name), associations by integration ARN, tokens seen."""

    integrations: dict[tuple[str, str], EventIntegration] = field(default_factory=dict)
    associations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)

    def clear(self) -> None:
        self.integrations.clear()
        self.associations.clear()
        self.tokens.clear()

    def by_arn(self, arn: str) -> EventIntegration | None:
        return next((i for i in self.integrations.values() if i.arn == arn), None)

    def named(self, name: str) -> EventIntegration | None:
        """The integration of that name in any account (for the control endpoints)."""
        return next((i for i in self.integrations.values() if i.name == name), None)

    def associate(
        self, integration: EventIntegration, client_id: str, client_arn: str | None, region: str
    ) -> None:
        """Add an association (what a consuming service such as Customer Profiles creates)."""
        found = self.associations.setdefault(integration.arn, [])
        if any(a["ClientId"] == client_id for a in found):
            return
        association_id = str(uuid.uuid4())
        name, account = integration.name, integration.account
        found.append(
            {
                "EventIntegrationAssociationArn": (
                    f"arn:aws:app-integrations:{region}:{account}:"
                    f"event-integration-association/{name}/{association_id}"
                ),
                "EventIntegrationAssociationId": association_id,
                "EventIntegrationName": name,
                "ClientId": client_id,
                "EventBridgeRuleName": f"{client_id}-{association_id}"[:2048],
                "ClientAssociationMetadata": {"ClientArn": client_arn} if client_arn else {},
            }
        )

    def disassociate(self, integration: EventIntegration, client_id: str) -> None:
        self.associations[integration.arn] = [
            a for a in self.associations.get(integration.arn, []) if a["ClientId"] != client_id
        ]


def _fingerprint(body: dict[str, Any]) -> str:
    request = {k: v for k, v in body.items() if k != "ClientToken"}
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _validated(body: dict[str, Any]) -> EventIntegration:
    errors: list[str] = []
    name = rest.check_string(body, "Name", errors, pattern=NAME_PATTERN)
    bus = rest.check_string(body, "EventBridgeBus", errors, pattern=NAME_PATTERN)
    description = rest.check_string(
        body, "Description", errors, min_len=0, max_len=1000, required=False
    )
    event_filter = body.get("EventFilter")
    if not isinstance(event_filter, dict):
        errors.append("EventFilter is required")
        event_filter = {}
    source = rest.check_string(
        event_filter, "Source", errors, pattern=FILTER_SOURCE_PATTERN, max_len=256
    )
    rest.check_string(body, "ClientToken", errors, max_len=2048, required=False)
    tags = rest.check_tags(body, errors, max_tags=200)
    rest.raise_if_any(errors, INVALID)
    return EventIntegration(str(name), "", "", str(source), str(bus), description, tags)


def create_event_integration(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    store = state.app_integrations
    integration = _validated(request.body)
    token = request.body.get("ClientToken")
    fingerprint = _fingerprint(request.body)
    # A token whose integration was deleted since is spent: the request creates afresh.
    if isinstance(token, str) and token in store.tokens and store.by_arn(store.tokens[token][1]):
        seen_fingerprint, arn = store.tokens[token]
        if seen_fingerprint != fingerprint:
            raise rest.error(INVALID, "ClientToken was already used with a different request.")
        return {"EventIntegrationArn": arn}
    key = (request.account, integration.name)
    if key in store.integrations:
        raise rest.error(
            "DuplicateResourceException", f"EventIntegration {integration.name} already exists."
        )
    region, integration.account = state.options.region, request.account
    integration.arn = (
        f"arn:aws:app-integrations:{region}:{request.account}:event-integration/{integration.name}"
    )
    store.integrations[key] = integration
    if isinstance(token, str):
        store.tokens[token] = (fingerprint, integration.arn)
    return {"EventIntegrationArn": integration.arn}


def _existing(state: EmulatorState, request: rest.RestRequest) -> EventIntegration:
    name = request.params["Name"]
    integration = state.app_integrations.integrations.get((request.account, name))
    if integration is None:
        raise rest.error("ResourceNotFoundException", f"EventIntegration {name} does not exist.")
    return integration


def get_event_integration(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    return _existing(state, request).to_json()


def list_event_integrations(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    store = state.app_integrations
    own = {
        i.name: i for (account, _), i in store.integrations.items() if account == request.account
    }
    return rest.paged(
        "EventIntegrations", sorted(own), lambda name: own[name].to_json(), request.query, PAGING
    )


def list_associations(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    found = state.app_integrations.associations.get(_existing(state, request).arn, [])
    by_id = {a["EventIntegrationAssociationId"]: a for a in found}
    return rest.paged(
        "EventIntegrationAssociations", sorted(by_id), by_id.__getitem__, request.query, PAGING
    )


def delete_event_integration(state: EmulatorState, request: rest.RestRequest) -> dict[str, Any]:
    integration = _existing(state, request)
    name = integration.name
    if state.app_integrations.associations.get(integration.arn):
        raise rest.error(
            INVALID,
            f"EventIntegration {name} cannot be deleted while it has associations; "
            "remove the integrations that use it first.",
        )
    del state.app_integrations.integrations[(request.account, name)]
    return {}


ROUTES: list[rest.Route] = [
    rest.route("CreateEventIntegration", "POST", "/eventIntegrations", create_event_integration),
    rest.route("ListEventIntegrations", "GET", "/eventIntegrations", list_event_integrations),
    rest.route("GetEventIntegration", "GET", "/eventIntegrations/{Name}", get_event_integration),
    rest.route(
        "DeleteEventIntegration", "DELETE", "/eventIntegrations/{Name}", delete_event_integration
    ),
    rest.route(
        "ListEventIntegrationAssociations",
        "GET",
        "/eventIntegrations/{Name}/associations",
        list_associations,
    ),
]
