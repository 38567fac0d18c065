"""The tenant registry: the partner event source, account and Region of each tenant."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from publisher.errors import InvalidEvent
from publisher.model import Event
from publisher.settings import TenantSettings


class UnknownTenant(InvalidEvent):
    """The event names a tenant the registry does not know."""


@dataclass(frozen=True, slots=True)
class Route:
    tenant: str
    source: str
    account: str
    region: str


class TenantRegistry:
    """Maps tenant ids to routes; an event can only ever reach its own tenant's source."""

    def __init__(self, tenants: Mapping[str, TenantSettings], default_region: str) -> None:
        self._routes = {
            name: Route(name, t.source, t.account, t.region or default_region)
            for name, t in tenants.items()
        }

    def route(self, event: Event) -> Route:
        route = self._routes.get(event.tenant)
        if route is None:
            raise UnknownTenant("tenant", f"unknown tenant {event.tenant!r}")
        if event.source is not None and event.source != route.source:
            raise InvalidEvent(
                "source", f"{event.source!r} is not the source of tenant {event.tenant!r}"
            )
        return route

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes.values())

    def __len__(self) -> int:
        return len(self._routes)
