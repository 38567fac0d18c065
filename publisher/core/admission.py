"""Admission: whether a fetched message may enter the pipeline, as which entry, or why not.

Decode (unless already validated where it was accepted), route to the tenant's source, then
refuse what AWS could never accept or would silently drop: an entry larger than one request,
an event past its age budget, a source that is gone or PENDING. A verdict only, no effects:
the engine batches an admitted entry, puts back a held message and dead-letters a refused one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from publisher.core.decisions import RetryAfter
from publisher.core.event import Event, InvalidJson, decode_event, entry_size, request_entry
from publisher.core.ids import HexUuids
from publisher.core.message import Message, ValidatedMessage
from publisher.core.reasons import Reason
from publisher.core.source_states import GONE, PENDING, SourceStates
from publisher.core.tenants import TenantRegistry, UnknownTenant
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
        return self.admit_all((message,), wall)[0]

    def admit_all(self, messages: Sequence[Message], wall: float) -> list[Verdict]:
        """The verdict on each message, in order, as admit() gives it one at a time.

        Tenants and source states cannot change during the call (nothing is awaited), so
        each tenant's route and its source's state are looked up once per call, not per event.
        """
        verdicts: list[Verdict] = []
        append = verdicts.append
        lanes: dict[str, _TenantLane | None] = {}
        max_request_bytes, max_age_s = self._max_request_bytes, self._max_age_s
        new_id = self._new_ids.next
        for message in messages:
            try:
                if type(message) is ValidatedMessage:
                    event = message.event  # validated once, where it was accepted
                else:
                    event = decode_event(message.body)
            except InvalidEvent as exc:
                append(Refusal(message, _reason_for(exc), str(exc), tenant=None, event_id=None))
                continue
            tenant = event.tenant
            if tenant in lanes:
                lane = lanes[tenant]
            else:
                lane = lanes[tenant] = self._lane(tenant)
            if lane is None or (event.source is not None and event.source != lane.source):
                append(self._misrouted(message, event))
                continue
            source = lane.source
            # The usual event (no resources, no time, an ASCII detail type) is sized and made
            # into its request entry inline, as entry_size and request_entry would: two calls
            # fewer per event.
            plain = not event.resources and event.time is None
            if plain and event.detail_type.isascii():
                size = lane.source_bytes + len(event.detail_type) + event.detail_bytes
            else:
                size = entry_size(source, event)
            if size >= max_request_bytes:  # AWS: "less than" the limit
                rule = f"entry is {size} bytes, not under max_request_bytes {max_request_bytes}"
                append(_refuse(message, event, Reason.TOO_LARGE, rule))
            elif wall - message.enqueued_at > max_age_s:
                rule = "older than retry.max_age_s before its first attempt"
                append(_refuse(message, event, Reason.TOO_OLD, rule))
            elif lane.entry_type is None:
                append(self._by_source_state(message, event, lane.state, source))
            else:
                append(
                    lane.entry_type(
                        message,
                        lane.region,
                        {"Source": source, "DetailType": event.detail_type, "Detail": event.detail}
                        if plain
                        else request_entry(source, event),
                        size,
                        tenant,
                        event.id or new_id(),
                    )
                )
        return verdicts

    def _lane(self, tenant: str) -> _TenantLane | None:
        """The tenant's route and what its source's state makes of its events; None: unknown."""
        route = self._tenants.get(tenant)
        if route is None:
            return None
        state = self._states.state(route.source)
        entry_type: type[Entry] | None = Entry
        if state in GONE or state == PENDING:
            entry_type = PendingEntry if self._pending == "send" and state == PENDING else None
        source_bytes = len(route.source.encode())
        return _TenantLane(route.source, source_bytes, route.region, state, entry_type)

    def _misrouted(self, message: Message, event: Event) -> Refusal:
        """The refusal of an event for an unknown tenant or naming another tenant's source."""
        try:
            self._tenants.route(event)
        except InvalidEvent as exc:
            return Refusal(message, _reason_for(exc), str(exc), event.tenant, event.id)
        raise AssertionError(f"tenant {event.tenant!r} routes after all")  # pragma: no cover

    def _by_source_state(self, message: Message, event: Event, state: str, source: str) -> Verdict:
        """Refuse or hold events that AWS would reject or silently drop."""
        if state in GONE:
            return _refuse(message, event, Reason.SOURCE_DELETED, f"source {source} is {state}")
        if self._pending == "dead_letter":
            return _refuse(message, event, Reason.SOURCE_PENDING, f"source {source} is PENDING")
        return self._hold


@dataclass(frozen=True, slots=True)
class _TenantLane:
    """What admission needs of one tenant during one call: its route, its source's state."""

    source: str
    source_bytes: int
    """The source's length in UTF-8, as entry_size counts it."""
    region: str
    state: str
    entry_type: type[Entry] | None
    """The kind of entry its events become; None when the state refuses or holds them."""


def _refuse(message: Message, event: Event, reason: Reason, rule: str) -> Refusal:
    """A valid event that cannot be sent at all, in the words of an InvalidEvent on `event`."""
    return Refusal(message, reason, str(InvalidEvent("event", rule)), event.tenant, event.id)


def _reason_for(exc: InvalidEvent) -> Reason:
    if isinstance(exc, InvalidJson):
        return Reason.INVALID_JSON
    if isinstance(exc, UnknownTenant):
        return Reason.UNKNOWN_TENANT
    return Reason.INVALID_EVENT
