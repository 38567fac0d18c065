"""Reconcile the tenants with the partner event sources that exist in AWS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from publisher.aws.partner_sources import PartnerSources
from publisher.core.source_states import MISSING, PENDING, source_state
from publisher.core.tenants import Route


@dataclass(frozen=True, slots=True)
class TenantSourceStatus:
    tenant: str
    source: str
    account: str
    region: str
    state: str
    """ACTIVE, PENDING or DELETED as AWS reports it; MISSING; or ACCOUNT_MISMATCH."""
    action: str
    """created, would_create or none."""


@dataclass(slots=True)
class SyncReport:
    tenants: list[TenantSourceStatus] = field(default_factory=list)
    unused_sources: list[str] = field(default_factory=list)


SourcesFor = Callable[[str], Awaitable[PartnerSources]]


def partner_prefix(source: str) -> str:
    """`aws.partner/<partner>/`: the part of a name that all of one partner's sources share."""
    parts = source.split("/")
    return "/".join(parts[:2]) + "/"


async def sync_sources(
    routes: Iterable[Route], sources_for: SourcesFor, dry_run: bool
) -> SyncReport:
    """Create missing sources (unless dry_run), report every tenant's state and unused sources."""
    report = SyncReport()
    routes = list(routes)
    for route in routes:
        sources = await sources_for(route.region)
        state = await source_state(sources, route)
        action = "none"
        if state == MISSING:
            if dry_run:
                action = "would_create"
            else:
                await sources.create(route.source, route.account)
                action, state = "created", PENDING
        report.tenants.append(
            TenantSourceStatus(
                route.tenant, route.source, route.account, route.region, state, action
            )
        )
    used = {route.source for route in routes}
    for region, prefix in sorted({(r.region, partner_prefix(r.source)) for r in routes}):
        listed = await (await sources_for(region)).list_by_prefix(prefix)
        report.unused_sources.extend(s["Name"] for s in listed if s["Name"] not in used)
    return report
