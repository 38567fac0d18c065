"""The last known state of each tenant's partner event source, and its periodic refresh.

AWS accepts events for a PENDING source and silently drops them, and rejects them for a
DELETED or missing one (CONTRACT section 2). Knowing the state lets the daemon hold or
dead-letter such events instead of paying for calls that cannot deliver.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import structlog

from publisher.aws.partner_sources import PartnerSources, SourceAdminError
from publisher.aws.source_sync import MISSING, source_state
from publisher.core.tenants import TenantRegistry

log = structlog.get_logger(__name__)

ACTIVE = "ACTIVE"
PENDING = "PENDING"
DELETED = "DELETED"
UNKNOWN = "UNKNOWN"
GONE = frozenset({DELETED, MISSING})
STATES = (ACTIVE, PENDING, DELETED, MISSING, UNKNOWN)


class SourceStates:
    """State per source name; UNKNOWN until refreshed (events are then sent as usual)."""

    def __init__(self, on_change: Callable[[dict[str, int]], None] | None = None) -> None:
        self._states: dict[str, str] = {}
        self._on_change = on_change

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

    def counts(self, registry: TenantRegistry) -> dict[str, int]:
        """Tenants by state (for the gauge; a tenant id never becomes a label)."""
        counted = Counter(self.state(route.source) for route in registry)
        return {state: counted.get(state, 0) for state in STATES}


async def refresh_states(
    states: SourceStates, registry: TenantRegistry, sources: PartnerSources, region: str
) -> int:
    """Refresh every tenant in `region`; returns how many could not be read."""
    failures = 0
    for route in list(registry):
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
    registry: TenantRegistry,
    sources_for: Callable[[str], PartnerSources],
    interval_s: float,
    on_refreshed: Callable[[], None],
) -> None:
    """Refresh all Regions now and then every interval_s, until cancelled."""
    while True:
        for region in sorted({route.region for route in registry}):
            try:
                await refresh_states(states, registry, sources_for(region), region)
            except Exception:
                # A failed refresh keeps the last known states; the next one tries again.
                log.exception("source_state_refresh_failed", region=region)
        on_refreshed()
        await asyncio.sleep(interval_s)


def is_gone(state: str) -> bool:
    return state in GONE
