"""Builds the pipeline and its parts from Settings: the one place that maps settings to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog

from publisher.aws.fastclient import FastRegionClients
from publisher.aws.putevents import RegionClients, SdkRegionClients
from publisher.core.admission import Admission
from publisher.core.decisions import RetryPolicy
from publisher.core.source_states import SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.deadletters.factory import build_dead_letter_store
from publisher.deadletters.file import FileDeadLetterStore
from publisher.engine.deadletter_retry import RetryingDeadLetters
from publisher.engine.pipeline import Pipeline, SettledCallback
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.inputs.base import Input
from publisher.ledger.factory import running_ledger
from publisher.observe.health import Health
from publisher.settings import Settings

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_pipeline(
    settings: Settings,
    input: Input,
    metrics: Metrics,
    tenants: TenantRegistry,
    states: SourceStates,
    on_settled: SettledCallback | None = None,
    health: Health | None = None,
) -> AsyncIterator[Pipeline]:
    """A pipeline with its AWS clients (warmed up), the dead-letter store and the event ledger
    open for the block.

    Raises StartRefused when a dead-letter file cannot be written now: the first dead
    letter would otherwise find out, with the event already on its way. Later failures of
    the store are retried (engine.deadletter_retry) and reported to `health`.
    """
    health = health or Health()
    dead_letters = build_dead_letter_store(settings)
    if isinstance(dead_letters, FileDeadLetterStore):
        dead_letters.check_writable()
    await dead_letters.start()
    retrying = RetryingDeadLetters(dead_letters, health, metrics)
    publish = settings.publish
    try:
        clients_type = FastRegionClients if publish.client == "fast" else SdkRegionClients
        async with (
            clients_type(settings.aws, publish) as clients,
            running_ledger(settings, metrics) as ledger,
        ):
            await warm_up(clients, tenants)
            yield Pipeline(
                input=input,
                clients=clients,
                admission=admission_for(settings, tenants, states),
                states=states,
                dead_letters=retrying,
                metrics=metrics,
                policy=RetryPolicy(settings.retry),
                limiter=AdaptiveRateLimiter(
                    publish.rate_limit_rps, window_s=publish.rate_limit_window_s
                ),
                max_entries=publish.max_entries,
                max_request_bytes=publish.max_request_bytes,
                linger_s=publish.linger_ms / 1000.0,
                max_in_flight=publish.max_in_flight,
                max_buffered_events=publish.max_buffered_events,
                on_settled=on_settled,
                tenant_metrics_top_n=settings.admin.tenant_metrics_top_n,
                health=health,
                ledger=ledger,
            )
    finally:
        await dead_letters.close()


def admission_for(settings: Settings, tenants: TenantRegistry, states: SourceStates) -> Admission:
    return Admission(
        tenants,
        states,
        max_request_bytes=settings.publish.max_request_bytes,
        max_age_s=settings.retry.max_age_s,
        pending=settings.sources.pending,
        hold_s=settings.sources.refresh_interval_s,
    )


async def warm_up(clients: RegionClients, tenants: TenantRegistry) -> None:
    """Create each tenant Region's client now rather than in the first events' latency.

    Creating one loads botocore's service model, about 100 ms with the loop stalled.
    """
    for region in sorted({route.region for route in tenants}):
        try:
            await clients.get(region)
        except Exception as exc:  # the first send to that Region reports it properly
            log.warning("client_warm_up_failed", region=region, error=str(exc))
