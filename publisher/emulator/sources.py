"""Partner event sources and their states, from both the partner's and the customer's side.

A new source is PENDING; the customer's CreateEventBus (or ActivateEventSource) makes it
ACTIVE; DeactivateEventSource or DeleteEventBus returns it to PENDING; the partner's
DeletePartnerEventSource makes it DELETED for good (a later create starts it afresh).
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
    has_bus: bool = False

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

    def create(self, name: str, account: str) -> PartnerSource:
        """A new PENDING source; a live one of that name is a conflict."""
        existing = self._sources.get(name)
        if existing is not None and existing.state is not SourceState.DELETED:
            raise SourceExists(name)
        source = PartnerSource(name, account, SourceState.PENDING, time.time())
        self._sources[name] = source
        return source

    def force(self, name: str, account: str, state: SourceState) -> PartnerSource:
        """Set a source's state directly (a test hook, not an AWS call)."""
        source = self._sources.get(name)
        if source is None:
            source = PartnerSource(name, account, state, time.time())
            self._sources[name] = source
        source.account = account
        source.state = state
        source.has_bus = state is SourceState.ACTIVE
        return source

    def delete(self, name: str, account: str) -> None:
        """The partner deletes the source; a missing source or another account is a no-op."""
        source = self._sources.get(name)
        if source is not None and source.account == account:
            source.state = SourceState.DELETED
            source.has_bus = False

    def create_bus(self, name: str) -> PartnerSource:
        """The customer creates the matching partner bus: the source turns ACTIVE."""
        source = self.live(name)
        if source.has_bus:
            raise SourceExists(name)
        source.has_bus = True
        source.state = SourceState.ACTIVE
        return source

    def delete_bus(self, name: str) -> bool:
        """The customer deletes the bus: the source turns PENDING. False when no such bus."""
        source = self._sources.get(name)
        if source is None or not source.has_bus:
            return False
        source.has_bus = False
        if source.state is SourceState.ACTIVE:
            source.state = SourceState.PENDING
        return True

    def set_active(self, name: str, active: bool) -> PartnerSource:
        """Activate or deactivate from the customer side; a DELETED source cannot change."""
        source = self._sources.get(name)
        if source is None:
            raise SourceNotFound(name)
        if source.state is SourceState.DELETED:
            raise InvalidState(name)
        source.state = SourceState.ACTIVE if active else SourceState.PENDING
        return source

    def with_prefix(self, prefix: str) -> list[PartnerSource]:
        """Live sources whose name starts with `prefix`, sorted by name."""
        return sorted(
            (
                s
                for s in self._sources.values()
                if s.name.startswith(prefix) and s.state is not SourceState.DELETED
            ),
            key=lambda s: s.name,
        )

    def clear(self) -> None:
        """Forget every source."""
        self._sources.clear()

    def snapshot(self) -> list[dict[str, object]]:
        """Every source, deleted ones included, as JSON-ready dicts sorted by name."""
        return [
            {"name": s.name, "account": s.account, "state": s.state.value, "has_bus": s.has_bus}
            for s in sorted(self._sources.values(), key=lambda s: s.name)
        ]
