"""The tenant registry: the partner event source, account and Region of each tenant."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from publisher.core.event import Event
from publisher.core.fairness import EQUAL_SHARE, Share
from publisher.errors import ConfigError, InvalidEvent
from publisher.settings import Settings, TenantSettings, load_tenants_file


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
        self._default_region = default_region
        self.routes: Mapping[str, Route] = self._build(tenants)
        """Tenant -> route, replaced whole on reload: a hot path may look a tenant up in it
        directly, without a call per event (route() raises what a miss means)."""
        self._shares = _shares(tenants)

    def replace(self, tenants: Mapping[str, TenantSettings]) -> None:
        """Swap in a new set of tenants at once (SIGHUP reload); in-flight events are unaffected."""
        self.routes = self._build(tenants)
        self._shares = _shares(tenants)

    def share_of(self, tenant: str) -> Share:
        """The tenant's weight and rate limit (equal shares for a tenant not configured)."""
        return self._shares.get(tenant, EQUAL_SHARE)

    def any_limits(self) -> bool:
        """Whether any tenant has a max_events_per_s."""
        return any(share.max_events_per_s is not None for share in self._shares.values())

    def get(self, tenant: str) -> Route | None:
        return self.routes.get(tenant)

    def _build(self, tenants: Mapping[str, TenantSettings]) -> dict[str, Route]:
        return {
            name: Route(name, t.source, t.account, t.region or self._default_region)
            for name, t in tenants.items()
        }

    def route(self, event: Event) -> Route:
        route = self.routes.get(event.tenant)
        if route is None:
            raise UnknownTenant("tenant", f"unknown tenant {event.tenant!r}")
        if event.source is not None and event.source != route.source:
            raise InvalidEvent(
                "source", f"{event.source!r} is not the source of tenant {event.tenant!r}"
            )
        return route

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes.values())

    def __len__(self) -> int:
        return len(self.routes)


def _shares(tenants: Mapping[str, TenantSettings]) -> dict[str, Share]:
    # Only tenants that differ from the default: most lookups then miss a small dict.
    return {
        name: Share(t.weight, t.max_events_per_s)
        for name, t in tenants.items()
        if t.weight != 1.0 or t.max_events_per_s is not None
    }


def configured_tenants(settings: Settings) -> dict[str, TenantSettings]:
    """The config's tenants plus those of tenants_file (read now); a name may appear once."""
    tenants = dict(settings.tenants)
    if settings.tenants_file is not None:
        for name, tenant in load_tenants_file(settings.tenants_file).items():
            if name in tenants:
                raise ConfigError(
                    f"tenant {name!r} is in both the config and {settings.tenants_file}"
                )
            tenants[name] = tenant
    return tenants


def tenants_for(settings: Settings) -> TenantRegistry:
    """The configured tenants (tenants_file read now), their Region defaulting to aws.region."""
    return TenantRegistry(configured_tenants(settings), settings.aws.region)
