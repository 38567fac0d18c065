"""Admission: whether a fetched message may enter the pipeline, as which entry, or why not.

Decode (unless already validated where it was accepted), route to the tenant's source, then
refuse what AWS could never accept or would silently drop: an entry larger than one request,
an event past its age budget, a source that is gone or PENDING. A verdict only, no effects:
the engine batches an admitted entry, puts back a held message and dead-letters a refused one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from publisher.core.decisions import RetryAfter
from publisher.core.event import Event, InvalidJson, decode_event, entry_size, request_entry
from publisher.core.ids import HexUuids
from publisher.core.message import Message, ValidatedMessage
from publisher.core.reasons import Reason
from publisher.core.source_states import GONE, PENDING, SourceStates
from publisher.core.tenants import Route, TenantRegistry, UnknownTenant
from publisher.errors import InvalidEvent

PendingPolicy = Literal["send", "hold", "dead_letter"]


@dataclass(slots=True, eq=False)
class Entry:
    """One event on its way: the input message, its request entry, its attempts so far."""

    message: Message
    region: str
    fields: dict[str, Any]
    size: int
    tenant: str
    event_id: str | None
    """The event's `id`; one is made up at intake (a UUID) for an event without, so that
    every event can be traced (logs, ledger, the dead letter's record)."""
    attempts: int = 0


@dataclass(slots=True, eq=False)
class PendingEntry(Entry):
    """An entry for a PENDING source, sent all the same (`sources.pending: send`)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """The message can never be sent; it is dead-lettered for `reason`."""

    message: Message
    reason: Reason
    error: str
    tenant: str | None
    """None when the body is not an event at all, as is event_id."""
    event_id: str | None


# RetryAfter: the message waits in the input for delay_s (its source is PENDING), then again.
Verdict = Entry | RetryAfter | Refusal


class Admission:
    """Turns messages into entries under the current tenants, limits and source states."""

    def __init__(
        self,
        tenants: TenantRegistry,
        states: SourceStates,
        *,
        max_request_bytes: int,
        max_age_s: float,
        pending: PendingPolicy,
        hold_s: float,
    ) -> None:
        self._tenants = tenants
        self._states = states
        self._max_request_bytes = max_request_bytes
        self._max_age_s = max_age_s
        self._pending = pending
        self._hold = RetryAfter(hold_s)  # one value for every held message
        self._new_ids = HexUuids()

    @property
    def tenants(self) -> TenantRegistry:
        """The registry events are routed with (the send queue weighs tenants by it too)."""
        return self._tenants

    def admit(self, message: Message, wall: float) -> Verdict:
        """The entry to send, a RetryAfter, or the Refusal to dead-letter; `wall`: epoch seconds."""
        try:
            if type(message) is ValidatedMessage:
                event = message.event  # validated once, where it was accepted
            else:
                event = decode_event(message.body)
        except InvalidEvent as exc:
            return Refusal(message, _reason_for(exc), str(exc), tenant=None, event_id=None)
        try:
            route = self._tenants.route(event)
        except InvalidEvent as exc:
            return Refusal(message, _reason_for(exc), str(exc), event.tenant, event.id)
        size = entry_size(route.source, event)
        if size >= self._max_request_bytes:  # AWS: "less than" the limit
            limit = self._max_request_bytes
            rule = f"entry is {size} bytes, not under max_request_bytes {limit}"
            return _refuse(message, event, Reason.TOO_LARGE, rule)
        if wall - message.enqueued_at > self._max_age_s:
            rule = "older than retry.max_age_s before its first attempt"
            return _refuse(message, event, Reason.TOO_OLD, rule)
        return self._by_source_state(message, event, route, size)

    def _by_source_state(self, message: Message, event: Event, route: Route, size: int) -> Verdict:
        """Refuse or hold events that AWS would reject or silently drop."""
        state = self._states.state(route.source)
        if state in GONE:
            rule = f"source {route.source} is {state}"
            return _refuse(message, event, Reason.SOURCE_DELETED, rule)
        entry_type = Entry
        if state == PENDING:
            if self._pending == "dead_letter":
                rule = f"source {route.source} is PENDING"
                return _refuse(message, event, Reason.SOURCE_PENDING, rule)
            if self._pending == "hold":
                return self._hold
            entry_type = PendingEntry
        fields = request_entry(route.source, event)
        event_id = event.id or self._new_ids.next()
        return entry_type(message, route.region, fields, size, route.tenant, event_id)


def _refuse(message: Message, event: Event, reason: Reason, rule: str) -> Refusal:
    """A valid event that cannot be sent at all, in the words of an InvalidEvent on `event`."""
    return Refusal(message, reason, str(InvalidEvent("event", rule)), event.tenant, event.id)


def _reason_for(exc: InvalidEvent) -> Reason:
    if isinstance(exc, InvalidJson):
        return Reason.INVALID_JSON
    if isinstance(exc, UnknownTenant):
        return Reason.UNKNOWN_TENANT
    return Reason.INVALID_EVENT
