"""Builds the publishing engine (pipeline and its parts) from settings, for `send` and `run`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from publisher.aws.fastclient import FastRegionClients
from publisher.aws.putevents import SdkRegionClients
from publisher.core.decisions import RetryPolicy
from publisher.core.source_states import SourceStates
from publisher.core.tenants import TenantRegistry, registry_for
from publisher.deadletters.factory import build_dead_letter_store
from publisher.engine.pipeline import Pipeline, SettledCallback
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.inputs.base import Input
from publisher.ledger.factory import running_ledger
from publisher.observe.metrics import Metrics
from publisher.settings import Settings


@asynccontextmanager
async def open_pipeline(
    settings: Settings,
    source: Input,
    metrics: Metrics,
    lease_renew_s: float,
    on_settled: SettledCallback | None = None,
    router: TenantRegistry | None = None,
    states: SourceStates | None = None,
) -> AsyncIterator[Pipeline]:
    """A pipeline with AWS clients, the dead-letter store and the ledger open for the block."""
    dead_letters = build_dead_letter_store(settings)
    await dead_letters.start()
    try:
        clients_type = FastRegionClients if settings.publish.client == "fast" else SdkRegionClients
        async with (
            clients_type(settings.aws, settings.publish) as clients,
            running_ledger(settings, metrics) as ledger,
        ):
            yield Pipeline(
                source=source,
                clients=clients,
                router=router or registry_for(settings),
                dead_letters=dead_letters,
                metrics=metrics,
                publish=settings.publish,
                policy=RetryPolicy(settings.retry),
                limiter=AdaptiveRateLimiter(settings.publish.rate_limit_rps),
                lease_renew_s=lease_renew_s,
                states=states,
                sources=settings.sources,
                on_settled=on_settled,
                ledger=ledger,
            )
    finally:
        await dead_letters.close()
