"""The Prometheus metrics (README "Metrics"), on a registry of their own so tests stay isolated."""

from __future__ import annotations

from functools import partial

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
)

from publisher.observe.histogram import BatchHistogram
from publisher.observe.labels import INGEST_CODES, PUT_OUTCOMES

# The *_created series double the exposition size and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_ENTRY_BUCKETS = (1, 2, 5, 10, 15, 19, 20)
_BYTE_BUCKETS = (1024, 4096, 16384, 65536, 131072, 262144, 524288, 1048576)


class Metrics:
    """Every metric the daemon exports; one instance per process (or per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        counter, gauge = partial(Counter, registry=r), partial(Gauge, registry=r)
        self.events_received = counter(
            "publisher_events_received", "Events fetched from the input."
        )
        self.events_published = counter(
            "publisher_events_published", "Events accepted by EventBridge."
        )
        self.events_retried = counter(
            "publisher_events_retried",
            "Entries scheduled for another attempt, by AWS error code.",
            ["error_code"],
        )
        self.events_dead_lettered = counter(
            "publisher_events_dead_lettered",
            "Events written to the dead-letter store, by reason.",
            ["reason"],
        )
        self.ledger_entries = counter(
            "publisher_ledger_entries",
            "Settled outcomes for the event ledger, by outcome (written, dropped).",
            ["outcome"],
        )
        self.put_requests = counter(
            "publisher_put_requests", "PutPartnerEvents calls, by outcome.", ["outcome"]
        )
        # Observed on every call: BatchHistogram costs a bisect, Histogram a lock and a walk.
        self.put_request_duration = BatchHistogram(
            "publisher_put_request_duration_seconds",
            "Duration of PutPartnerEvents calls.",
            _REQUEST_BUCKETS,
            r,
        )
        self.batch_entries = BatchHistogram(
            "publisher_batch_entries", "Entries per call.", _ENTRY_BUCKETS, r
        )
        self.batch_bytes = BatchHistogram(
            "publisher_batch_bytes", "AWS-counted bytes per call.", _BYTE_BUCKETS, r
        )
        # Observed once per event, so it takes a whole call's events at once.
        self.event_delivery = BatchHistogram(
            "publisher_event_delivery_seconds",
            "From acceptance by the input to acceptance by EventBridge.",
            _LATENCY_BUCKETS,
            r,
        )
        self.backlog_events = gauge(
            "publisher_backlog_events", "Events stored in the input, not yet settled."
        )
        self.input_lag_events = gauge(
            "publisher_input_lag_events",
            "Events in the input not yet settled, as the input counts them (what to scale on).",
        )
        self.in_flight_requests = gauge(
            "publisher_in_flight_requests", "PutPartnerEvents calls under way."
        )
        self.buffered_events = gauge(
            "publisher_buffered_events",
            "Events fetched and not yet settled (batching, in flight or waiting to retry).",
        )
        self.send_rate_limit = gauge(
            "publisher_send_rate_limit_rps",
            "Current PutPartnerEvents rate limit (lowered on throttling).",
        )
        self.events_sent_to_pending = counter(
            "publisher_events_sent_to_pending",
            "Events sent to a PENDING source: AWS accepts and silently drops them.",
        )
        self.events_held = counter(
            "publisher_events_held",
            "Times an event for a PENDING source was put back to wait (sources.pending: hold).",
        )
        self.tenants = gauge(
            "publisher_tenants", "Tenants by the state of their partner event source.", ["state"]
        )
        self.ingest_requests = counter(
            "publisher_ingest_requests", "HTTP ingest requests, by status code.", ["code"]
        )
        self.ingest_events = counter(
            "publisher_ingest_events",
            "Events in HTTP ingest requests: accepted (stored) or rejected (invalid).",
            ["outcome"],
        )
        self.tenant_backlog_events = gauge(
            "publisher_tenant_backlog_events",
            "Events stored and not settled, for the tenants with the largest backlogs (top N).",
            ["tenant"],
        )
        self.tenant_oldest_event_age = gauge(
            "publisher_tenant_oldest_event_age_seconds",
            "Age of the oldest event not settled, for the same top N tenants by backlog.",
            ["tenant"],
        )
        self.tenant_throttled_events = counter(
            "publisher_tenant_throttled_events",
            "Events held back by their tenant's max_events_per_s (in memory or in the input).",
        )
        # Stores that fail: counted at each failed attempt, retried until they succeed.
        self.dead_letter_write_failures = counter(
            "publisher_dead_letter_write_failures",
            "Failed attempts to store dead letters (the events are kept and retried).",
        )
        self.ack_failures = counter(
            "publisher_ack_failures",
            "Failed attempts to acknowledge settled events to the input (kept and retried).",
        )
        self.acks_pending = gauge(
            "publisher_acks_pending",
            "Settled events whose acknowledgement waits for the input to accept it.",
        )
        for outcome in PUT_OUTCOMES:
            self.put_requests.labels(outcome=outcome)
        for code in INGEST_CODES:
            self.ingest_requests.labels(code=code)
        for outcome in ("accepted", "rejected"):
            self.ingest_events.labels(outcome=outcome)
