"""The last known state of each tenant's partner event source, and its periodic refresh.

AWS accepts events for a PENDING source and silently drops them, and rejects them for a
DELETED or missing one (docs/aws-contract.md, Partner event sources: states). Knowing the
state lets the daemon hold or dead-letter such events instead of paying for calls that cannot
deliver.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from publisher.core.tenants import Route, TenantRegistry
from publisher.errors import SourceAdminError

if TYPE_CHECKING:  # the SDK's control-plane client: imported by whoever refreshes states
    from publisher.aws.partner_sources import PartnerSources

log = structlog.get_logger(__name__)

# As AWS reports them for the tenant's account.
ACTIVE = "ACTIVE"
PENDING = "PENDING"
DELETED = "DELETED"
# No source of that name, or none offered to the tenant's account.
MISSING = "MISSING"
# The source exists, offered only to other accounts (`sources sync` reports it).
ACCOUNT_MISMATCH = "ACCOUNT_MISMATCH"
# Not read yet: events are sent as usual.
UNKNOWN = "UNKNOWN"
GONE = frozenset({DELETED, MISSING})
STATES = (ACTIVE, PENDING, DELETED, MISSING, UNKNOWN)


class SourceStates:
    """State per source name; UNKNOWN until refreshed (events are then sent as usual)."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    def state(self, source: str) -> str:
        return self._states.get(source, UNKNOWN)

    def set(self, source: str, state: str) -> None:
        previous = self._states.get(source, UNKNOWN)
        self._states[source] = state
        if previous != state:
            log.info("source_state_changed", source=source, previous=previous, state=state)

    def mark_gone(self, source: str) -> None:
        """AWS answered that the source's bus is not found: stop sending until a refresh."""
        self.set(source, MISSING)

    def counts(self, tenants: TenantRegistry) -> dict[str, int]:
        """Tenants by state (for the gauge; a tenant id never becomes a label)."""
        counted = Counter(self.state(route.source) for route in tenants)
        return {state: counted.get(state, 0) for state in STATES}


async def source_state(sources: PartnerSources, route: Route) -> str:
    """The state of the route's source for the route's account (MISSING if none)."""
    try:
        accounts = await sources.accounts(route.source)
    except SourceAdminError as exc:
        if exc.code == "ResourceNotFoundException":
            return MISSING
        raise
    for offered in accounts:
        if offered.account == route.account:
            return offered.state
    return ACCOUNT_MISMATCH if accounts else MISSING


async def refresh_states(
    states: SourceStates, tenants: TenantRegistry, sources: PartnerSources, region: str
) -> int:
    """Refresh every tenant in `region`; returns how many could not be read."""
    failures = 0
    for route in list(tenants):
        if route.region != region:
            continue
        try:
            states.set(route.source, await source_state(sources, route))
        except SourceAdminError as exc:
            failures += 1
            log.warning("source_state_refresh_failed", source=route.source, error_code=exc.code)
    return failures


async def refresh_forever(
    states: SourceStates,
    tenants: TenantRegistry,
    sources_for: Callable[[str], PartnerSources],
    interval_s: float,
    on_refreshed: Callable[[], None],
) -> None:
    """Refresh all Regions now and then every interval_s, until cancelled."""
    while True:
        for region in sorted({route.region for route in tenants}):
            try:
                await refresh_states(states, tenants, sources_for(region), region)
            except Exception:
                # A failed refresh keeps the last known states; the next one tries again.
                log.exception("source_state_refresh_failed", region=region)
        on_refreshed()
        await asyncio.sleep(interval_s)
