"""Admission: whether a fetched message may enter the pipeline, as which entry, or why not.

Decode (unless already validated where it was accepted), route to the tenant's source, then
refuse what AWS could never accept or would silently drop: an entry larger than one request,
an event past its age budget, a source that is gone or PENDING. Decisions only, no I/O: the
pipeline batches an admitted entry, puts back a held message and dead-letters a refused one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from publisher.core.decisions import Reason
from publisher.core.event import InvalidJson, decode_event, entry_size, request_entry
from publisher.core.source_states import PENDING, SourceStates, is_gone
from publisher.core.tenants import TenantRegistry, UnknownTenant
from publisher.engine.deadletter import DeadLetter
from publisher.errors import InvalidEvent
from publisher.inputs.base import Message
from publisher.observe.metrics import Metrics
from publisher.settings import SourcesSettings


@dataclass(slots=True, eq=False)
class Entry:
    """One event on its way: the input message, its request entry, its attempts so far."""

    message: Message
    region: str
    fields: dict[str, Any]
    size: int
    attempts: int = 0
    event_id: str = ""
    """The event's id; one is made up at intake for an event that has none, to trace it by."""
    tenant: str = ""


class Hold(Exception):
    """The event waits in the input until its source leaves PENDING."""


class Refused(InvalidEvent):
    """A valid event that cannot be sent at all (too large, too old, its source gone)."""

    def __init__(self, reason: Reason, rule: str) -> None:
        super().__init__("event", rule)
        self.reason = reason


class Admission:
    """Turns messages into entries under the current tenants, limits and source states."""

    def __init__(
        self,
        router: TenantRegistry,
        states: SourceStates,
        sources: SourcesSettings,
        max_request_bytes: int,
        max_age_s: float,
        metrics: Metrics,
    ) -> None:
        self._router = router
        self._states = states
        self._sources = sources
        self._max_request_bytes = max_request_bytes
        self._max_age_s = max_age_s
        self._metrics = metrics

    def entry_for(self, message: Message, wall: float) -> Entry:
        """The entry to send; raises Hold, or InvalidEvent (Refused among them) to dead-letter."""
        event = message.event
        if event is None:
            event = decode_event(message.body)
        else:
            message.event = None  # validated once, where it was accepted; not kept while held
        route = self._router.route(event)
        size = entry_size(route.source, event)
        if size > self._max_request_bytes:
            raise Refused(
                Reason.TOO_LARGE,
                f"entry is {size} bytes, over max_request_bytes {self._max_request_bytes}",
            )
        if wall - message.enqueued_at > self._max_age_s:
            raise Refused(Reason.TOO_OLD, "older than retry.max_age_s before its first attempt")
        self._check_source_state(route.source)
        event_id = event.id or uuid.uuid4().hex
        fields = request_entry(route.source, event)
        return Entry(message, route.region, fields, size, 0, event_id, event.tenant)

    def _check_source_state(self, source: str) -> None:
        """Refuse or hold events that AWS would reject or silently drop."""
        state = self._states.state(source)
        if is_gone(state):
            raise Refused(Reason.SOURCE_DELETED, f"source {source} is {state}")
        if state != PENDING:
            return
        if self._sources.pending == "dead_letter":
            raise Refused(Reason.SOURCE_PENDING, f"source {source} is PENDING")
        if self._sources.pending == "hold":
            raise Hold()
        self._metrics.events_sent_to_pending.inc()


def rejection(message: Message, exc: InvalidEvent) -> DeadLetter:
    """The dead letter for a message that was not admitted, with the reason why."""
    if isinstance(exc, Refused):
        reason = exc.reason
    elif isinstance(exc, InvalidJson):
        reason = Reason.INVALID_JSON
    elif isinstance(exc, UnknownTenant):
        reason = Reason.UNKNOWN_TENANT
    else:
        reason = Reason.INVALID_EVENT
    # An id for an event that came without one; kept only if the record has none (ledger).
    return DeadLetter(message, reason.value, reason.value, str(exc), 0, uuid.uuid4().hex)
