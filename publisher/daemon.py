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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import structlog

from publisher.aws.partner_sources import PartnerSources, open_partner_sources
from publisher.core.source_states import SourceStates, refresh_forever
from publisher.core.tenants import TenantRegistry, configured_tenants, tenants_for
from publisher.engine.acks import CHECK as ACK_CHECK
from publisher.engine.assemble import open_pipeline
from publisher.engine.deadletter_retry import CHECK as DEAD_LETTER_CHECK
from publisher.engine.pipeline import INPUT_READS, Pipeline
from publisher.errors import ConfigError
from publisher.gc_policy import freeze_start_up
from publisher.http.admin import Admin
from publisher.http.ingest import PUT_CHECK, Ingest
from publisher.inputs.base import Input
from publisher.inputs.factory import build_input
from publisher.ledger.lookup import EventLookup
from publisher.observe.health import Health
from publisher.observe.metrics import Metrics
from publisher.settings import Settings

log = structlog.get_logger(__name__)

FORCED_EXIT_CODE = 130
# A tenants file is read again this long after a SIGHUP, up to this many times, until two
# reads agree.
TENANTS_SETTLE_S = 0.2
TENANTS_SETTLE_READS = 5
# Within the admin's own bound on a readiness answer (0.9 s).
INPUT_PROBE_TIMEOUT_S = 0.5


@dataclass
class DaemonState:
    """What readiness is computed from, and the stop request.

    Every check is live: the input is asked now, and the parts report their failures (acks
    or dead letters that cannot be stored, reads that fail) to `health` as they happen.
    """

    input_ok: bool = False
    aws_ok: bool = False
    draining: bool = False
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    health: Health = field(default_factory=Health)
    input_probe: Callable[[], Awaitable[object]] | None = None

    async def readiness(self) -> dict[str, bool | str]:
        health = self.health
        return {
            "input": await self._input_reachable(),
            "input_writable": _joined(health, (ACK_CHECK, PUT_CHECK)),
            "dead_letters": _joined(health, (DEAD_LETTER_CHECK,)),
            "aws": self.aws_ok,
            "not_draining": not self.draining,
        }

    async def _input_reachable(self) -> bool | str:
        if not self.input_ok or self.input_probe is None:
            return False
        try:
            async with asyncio.timeout(INPUT_PROBE_TIMEOUT_S):
                await self.input_probe()
        except TimeoutError:
            return f"the input did not answer within {INPUT_PROBE_TIMEOUT_S} s"
        except Exception as exc:
            return f"the input cannot be reached: {exc}"
        return _joined(self.health, (INPUT_READS,))


def _joined(health: Health, checks: Sequence[str]) -> bool | str:
    """True when every check passes, else their reasons."""
    reasons = [reason for check in checks if (reason := health.reason(check)) is not None]
    return "; ".join(reasons) if reasons else True


async def serve(
    settings: Settings, state: DaemonState | None = None, *, accept_empty_spool: bool = False
) -> None:
    """Run the daemon until state.stop is set; raise if a part of it dies, StartRefused if
    a part cannot start as it is (a damaged spool, an unwritable dead-letter store)."""
    state = state or DaemonState()
    metrics = Metrics()
    tenants = tenants_for(settings)
    states = SourceStates()
    input = build_input(settings.input, aws=settings.aws, accept_empty_spool=accept_empty_spool)
    admin: Admin | None = None
    ingest: Ingest | None = None
    if settings.admin.enabled:
        admin = Admin(
            settings.admin, metrics, state.readiness, EventLookup(settings), whole=settings
        )
    try:
        if admin is not None:
            await admin.start()
        await input.start()
        state.input_probe = input.backlog
        state.input_ok = True
        async with open_pipeline(
            settings, input, metrics, tenants, states, health=state.health
        ) as pipeline:
            freeze_start_up()
            if admin is not None:
                admin.tenant_report = pipeline.tenant_stats.report
            if settings.ingest.enabled:
                ingest = Ingest(
                    settings.ingest,
                    input,
                    tenants,
                    metrics,
                    max_request_bytes=settings.publish.max_request_bytes,
                    health=state.health,
                )
                await ingest.start()
            # Ready only once ingest listens: an orchestrator (or a test) that sees /readyz
            # answer 200 sends events at once.
            state.aws_ok = True
            _log_started(settings, tenants, ingest, admin)
            with reload_tenants_on_sighup(settings, tenants):
                async with _source_refresher(settings, tenants, states, metrics) as refresher:
                    await _run_until_stopped(settings, pipeline, state, refresher, ingest)
    finally:
        state.draining = True
        if ingest is not None:
            await ingest.stop()
        await _close_quietly(input)
        if admin is not None:
            await admin.stop()
    log.info("daemon_stopped")


async def _run_until_stopped(
    settings: Settings,
    pipeline: Pipeline,
    state: DaemonState,
    refresher: asyncio.Task[None] | None,
    ingest: Ingest | None,
) -> None:
    grace_s = settings.publish.shutdown_grace_s
    pipeline_stop = asyncio.Event()
    publishing = asyncio.create_task(pipeline.run(pipeline_stop, grace_s), name="pipeline")
    stop_wait = asyncio.create_task(state.stop.wait(), name="stop-wait")
    watched = [publishing, stop_wait, *([refresher] if refresher else [])]
    done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    stop_wait.cancel()
    if refresher is not None and refresher in done:
        log.error("background_task_died", task=refresher.get_name())
    state.draining = True
    if ingest is not None:
        ingest.start_draining()
    log.info("daemon_draining", grace_s=grace_s)
    pipeline_stop.set()
    await publishing  # re-raises if the pipeline died: the daemon then exits non-zero
    if refresher is not None and refresher in done:
        refresher.result()  # re-raises what killed it


@asynccontextmanager
async def _source_refresher(
    settings: Settings, tenants: TenantRegistry, states: SourceStates, metrics: Metrics
) -> AsyncIterator[asyncio.Task[None] | None]:
    """The periodic source-state refresh task, if enabled, with its AWS clients."""
    if not settings.sources.refresh or not len(tenants):
        yield None
        return
    async with AsyncExitStack() as stack:
        clients: dict[str, PartnerSources] = {}
        for region in sorted({route.region for route in tenants}):
            clients[region] = await stack.enter_async_context(
                open_partner_sources(settings.aws, region, settings.sources.control_plane_rps)
            )

        def publish_counts() -> None:
            for name, count in states.counts(tenants).items():
                metrics.tenants.labels(state=name).set(count)

        task = asyncio.create_task(
            refresh_forever(
                states,
                tenants,
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


def _log_started(
    settings: Settings, tenants: TenantRegistry, ingest: Ingest | None, admin: Admin | None
) -> None:
    log.info(
        "daemon_started",
        input=settings.input.kind,
        ingest=f"http://{settings.ingest.host}:{ingest.port}" if ingest else None,
        admin=f"http://{settings.admin.host}:{admin.port}" if admin else None,
        tenants=len(tenants),
        region=settings.aws.region,
        endpoint_url=settings.aws.endpoint_url,
        pending_policy=settings.sources.pending,
        # "uvloop" or "asyncio": the loop `event_loop` chose (asyncio where uvloop is missing).
        event_loop=type(asyncio.get_running_loop()).__module__.partition(".")[0],
    )


@contextlib.contextmanager
def reload_tenants_on_sighup(settings: Settings, tenants: TenantRegistry) -> Iterator[None]:
    """SIGHUP re-reads tenants_file; a file that does not validate changes nothing."""
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[None]] = set()

    def reload() -> None:
        task = loop.create_task(_reload_tenants(settings, tenants), name="tenants-reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        for task in reloads:
            task.cancel()


async def _reload_tenants(settings: Settings, registry: TenantRegistry) -> None:
    """Swap in the file's tenants once two reads a moment apart agree: a file rewritten in
    place may parse while half written (cut at a line end), and then differs a moment later."""
    try:
        tenants = configured_tenants(settings)
        for _ in range(TENANTS_SETTLE_READS):
            await asyncio.sleep(TENANTS_SETTLE_S)
            again = configured_tenants(settings)
            if again == tenants:
                break
            tenants = again
        else:
            raise ConfigError(f"{settings.tenants_file} kept changing while it was read")
    except ConfigError as exc:
        log.error("tenants_reload_failed", error=str(exc))
        return
    registry.replace(tenants)
    log.info("tenants_reloaded", tenants=len(registry))


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
