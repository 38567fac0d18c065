"""Partner event sources and their states, from both the partner's and the customer's side.

A new source is PENDING; the customer's CreateEventBus (or ActivateEventSource) makes it
ACTIVE; DeactivateEventSource or DeleteEventBus returns it to PENDING; the partner's
DeletePartnerEventSource makes it DELETED for good (a later create starts it afresh).
Each source remembers both accounts: the partner's that created it (only it may send to,
describe or delete it) and the customer's it is offered to (only it may create the bus).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

PENDING_EXPIRY_S = 7 * 24 * 3600


class SourceState(enum.StrEnum):
    """AWS's EventSourceState values."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"


class SourceNotFound(Exception):
    """No such partner event source (or it was deleted)."""


class SourceExists(Exception):
    """The source, or the event bus matching it, already exists."""


class InvalidState(Exception):
    """The transition is not allowed from the source's current state."""


@dataclass(slots=True)
class PartnerSource:
    """One partner event source offered to one customer account."""

    name: str
    account: str
    state: SourceState
    created_at: float
    partner: str
    has_bus: bool = False
    bus_created_at: float = 0.0

    @property
    def expires_at(self) -> float:
        """When a never-matched source would expire (AWS: 7 days)."""
        return self.created_at + PENDING_EXPIRY_S

    @property
    def created_by(self) -> str:
        """The partner name: the first part after `aws.partner/`."""
        return self.name.split("/")[1]


class SourceRegistry:
    """All sources by name, with the transitions the AWS calls make."""

    def __init__(self) -> None:
        self._sources: dict[str, PartnerSource] = {}

    def get(self, name: str) -> PartnerSource | None:
        """The source, whatever its state, or None."""
        return self._sources.get(name)

    def live(self, name: str) -> PartnerSource:
        """The source unless it is missing or DELETED."""
        source = self._sources.get(name)
        if source is None or source.state is SourceState.DELETED:
            raise SourceNotFound(name)
        return source

    def offered_to(self, name: str, account: str) -> PartnerSource:
        """The source as the customer `account` sees it: only one offered to that account."""
        source = self._sources.get(name)
        if source is None or source.account != account:
            raise SourceNotFound(name)
        return source

    def create(self, name: str, account: str, partner: str) -> PartnerSource:
        """A new PENDING source; a live one of that name is a conflict."""
        existing = self._sources.get(name)
        if existing is not None and existing.state is not SourceState.DELETED:
            raise SourceExists(name)
        source = PartnerSource(name, account, SourceState.PENDING, time.time(), partner)
        self._sources[name] = source
        return source

    def force(self, name: str, account: str, state: SourceState, partner: str) -> PartnerSource:
        """Set a source's state directly (a test hook, not an AWS call)."""
        source = self._sources.get(name)
        if source is None:
            source = PartnerSource(name, account, state, time.time(), partner)
            self._sources[name] = source
        source.account, source.partner = account, partner
        source.state = state
        source.has_bus = state is SourceState.ACTIVE
        source.bus_created_at = source.bus_created_at or time.time()
        return source

    def delete(self, name: str, account: str, partner: str) -> None:
        """The partner deletes the source; a missing source or another account is a no-op."""
        source = self._sources.get(name)
        if source is not None and source.account == account and source.partner == partner:
            source.state = SourceState.DELETED
            source.has_bus = False

    def create_bus(self, name: str, account: str) -> PartnerSource:
        """The customer creates the matching partner bus: the source turns ACTIVE."""
        source = self.live(name)
        if source.account != account:
            raise SourceNotFound(name)
        if source.has_bus:
            raise SourceExists(name)
        source.has_bus, source.bus_created_at = True, time.time()
        source.state = SourceState.ACTIVE
        return source

    def delete_bus(self, name: str, account: str) -> bool:
        """The customer deletes the bus: the source turns PENDING. False when no such bus."""
        source = self._sources.get(name)
        if source is None or not source.has_bus or source.account != account:
            return False
        source.has_bus = False
        if source.state is SourceState.ACTIVE:
            source.state = SourceState.PENDING
        return True

    def set_active(self, name: str, account: str, active: bool) -> PartnerSource:
        """Activate or deactivate from the customer side; a DELETED source cannot change."""
        source = self.offered_to(name, account)
        if source.state is SourceState.DELETED:
            raise InvalidState(name)
        source.state = SourceState.ACTIVE if active else SourceState.PENDING
        return source

    def with_prefix(self, prefix: str, partner: str) -> list[PartnerSource]:
        """Live sources of one partner whose name starts with `prefix`, sorted by name."""
        return sorted(
            (
                s
                for s in self._sources.values()
                if s.name.startswith(prefix)
                and s.state is not SourceState.DELETED
                and s.partner == partner
            ),
            key=lambda s: s.name,
        )

    def clear(self) -> None:
        """Forget every source."""
        self._sources.clear()

    def snapshot(self) -> list[dict[str, object]]:
        """Every source, deleted ones included, as JSON-ready dicts sorted by name."""
        return [
            {
                "name": s.name,
                "account": s.account,
                "partner": s.partner,
                "state": s.state.value,
                "has_bus": s.has_bus,
            }
            for s in sorted(self._sources.values(), key=lambda s: s.name)
        ]
