"""The composition root of the daemon: builds the parts, runs them, stops them in order.

Shutdown order on SIGTERM/SIGINT: readiness turns false and ingest answers 503 (draining),
the pipeline stops fetching, flushes open batches and waits up to publish.shutdown_grace_s for
calls in flight, then everything unsettled is released back to the input. A second signal
exits at once; the input redelivers what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import structlog

from publisher.aws.partner_sources import PartnerSources, open_partner_sources
from publisher.core.source_states import SourceStates, refresh_forever
from publisher.core.tenants import TenantRegistry, configured_tenants, tenants_for
from publisher.engine.assemble import open_pipeline
from publisher.engine.pipeline import Pipeline
from publisher.errors import ConfigError
from publisher.gc_policy import freeze_start_up
from publisher.http.admin import Admin
from publisher.http.ingest import Ingest
from publisher.inputs.base import Input
from publisher.inputs.factory import build_input
from publisher.observe.metrics import Metrics
from publisher.settings import Settings

log = structlog.get_logger(__name__)

FORCED_EXIT_CODE = 130


@dataclass
class DaemonState:
    """What readiness is computed from, and the stop request."""

    input_ok: bool = False
    aws_ok: bool = False
    draining: bool = False
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def readiness(self) -> dict[str, bool]:
        return {"input": self.input_ok, "aws": self.aws_ok, "not_draining": not self.draining}


@dataclass
class _Parts:
    settings: Settings
    metrics: Metrics
    tenants: TenantRegistry
    states: SourceStates
    input: Input
    admin: Admin | None = None
    ingest: Ingest | None = None


async def serve(settings: Settings, state: DaemonState | None = None) -> None:
    """Run the daemon until state.stop is set; raise if a part of it dies."""
    state = state or DaemonState()
    metrics = Metrics()
    parts = _Parts(
        settings,
        metrics,
        tenants_for(settings),
        SourceStates(),
        build_input(settings.input, aws=settings.aws),
    )
    if settings.admin.enabled:
        parts.admin = Admin(settings.admin, metrics, state.readiness)
    try:
        if parts.admin is not None:
            await parts.admin.start()
        await parts.input.start()
        state.input_ok = True
        async with open_pipeline(
            settings, parts.input, metrics, parts.tenants, parts.states
        ) as pipeline:
            freeze_start_up()
            if parts.admin is not None:
                parts.admin.tenant_report = pipeline.tenant_stats.report
            state.aws_ok = True
            if settings.ingest.enabled:
                parts.ingest = Ingest(settings.ingest, parts.input, parts.tenants, metrics)
                await parts.ingest.start()
            _log_started(parts)
            with reload_tenants_on_sighup(settings, parts.tenants):
                await _run_until_stopped(parts, pipeline, state)
    finally:
        state.draining = True
        if parts.ingest is not None:
            await parts.ingest.stop()
        await _close_quietly(parts.input)
        if parts.admin is not None:
            await parts.admin.stop()
    log.info("daemon_stopped")


async def _run_until_stopped(parts: _Parts, pipeline: Pipeline, state: DaemonState) -> None:
    grace_s = parts.settings.publish.shutdown_grace_s
    pipeline_stop = asyncio.Event()
    async with _source_refresher(parts) as refresher:
        publishing = asyncio.create_task(pipeline.run(pipeline_stop, grace_s), name="pipeline")
        stop_wait = asyncio.create_task(state.stop.wait(), name="stop-wait")
        watched = [publishing, stop_wait, *([refresher] if refresher else [])]
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if refresher is not None and refresher in done:
            log.error("background_task_died", task=refresher.get_name())
        state.draining = True
        if parts.ingest is not None:
            parts.ingest.start_draining()
        log.info("daemon_draining", grace_s=grace_s)
        pipeline_stop.set()
        await publishing  # re-raises if the pipeline died: the daemon then exits non-zero
        if refresher is not None and refresher in done:
            refresher.result()  # re-raises what killed it


@asynccontextmanager
async def _source_refresher(parts: _Parts) -> AsyncIterator[asyncio.Task[None] | None]:
    """The periodic source-state refresh task, if enabled, with its AWS clients."""
    settings = parts.settings
    if not settings.sources.refresh or not len(parts.tenants):
        yield None
        return
    async with AsyncExitStack() as stack:
        clients: dict[str, PartnerSources] = {}
        for region in sorted({route.region for route in parts.tenants}):
            clients[region] = await stack.enter_async_context(
                open_partner_sources(settings.aws, region, settings.sources.control_plane_rps)
            )

        def publish_counts() -> None:
            for name, count in parts.states.counts(parts.tenants).items():
                parts.metrics.tenants.labels(state=name).set(count)

        task = asyncio.create_task(
            refresh_forever(
                parts.states,
                parts.tenants,
                clients.__getitem__,
                settings.sources.refresh_interval_s,
                publish_counts,
            ),
            name="source-state-refresh",
        )
        try:
            yield task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _close_quietly(input: Input) -> None:
    try:
        await input.close()
    except Exception:
        log.exception("input_close_failed")


def _log_started(parts: _Parts) -> None:
    settings = parts.settings
    log.info(
        "daemon_started",
        input=settings.input.kind,
        ingest=f"http://{settings.ingest.host}:{parts.ingest.port}" if parts.ingest else None,
        admin=f"http://{settings.admin.host}:{parts.admin.port}" if parts.admin else None,
        tenants=len(parts.tenants),
        region=settings.aws.region,
        endpoint_url=settings.aws.endpoint_url,
        pending_policy=settings.sources.pending,
    )


@contextlib.contextmanager
def reload_tenants_on_sighup(settings: Settings, tenants: TenantRegistry) -> Iterator[None]:
    """SIGHUP re-reads tenants_file; a file that does not validate changes nothing."""
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            tenants.replace(configured_tenants(settings))
        except ConfigError as exc:
            log.error("tenants_reload_failed", error=str(exc))
            return
        log.info("tenants_reloaded", tenants=len(tenants))

    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


@contextlib.contextmanager
def stop_on_signals(state: DaemonState) -> Iterator[None]:
    """First SIGTERM/SIGINT starts a graceful drain; a second one exits at once."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            log.info("signal_received", signal=signal.Signals(signum).name, action="drain")
            state.stop.set()
            return
        log.warning("signal_received", signal=signal.Signals(signum).name, action="exit_now")
        os._exit(FORCED_EXIT_CODE)

    handled = (signal.SIGTERM, signal.SIGINT)
    for signum in handled:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
