"""Builds the ledger store beside the input: Redis for a Redis input, else an SQLite file.

A new input engine plugs its own store in through LEDGER_BUILDERS, keyed by `input.kind`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from publisher.ledger.recorder import Ledger
from publisher.ledger.store import LedgerStore
from publisher.settings import (
    PostgresInputSettings,
    RedisInputSettings,
    Settings,
    SpoolInputSettings,
)

if TYPE_CHECKING:
    from publisher.observe.metrics import Metrics

DEFAULT_PATH = Path("data/ledger.db")
CLOSE_TIMEOUT_S = 10.0
log = structlog.get_logger(__name__)


def _redis(settings: Settings) -> LedgerStore:
    from publisher.ledger.redis import RedisLedger

    source = settings.input
    assert isinstance(source, RedisInputSettings)
    ledger = settings.ledger
    return RedisLedger(source.url, f"{source.stream}:ledger", ledger.retention_s, ledger.max_events)


def _sqlite(settings: Settings) -> LedgerStore:
    from publisher.ledger.sqlite import SqliteLedger

    ledger = settings.ledger
    return SqliteLedger(ledger_path(settings), ledger.retention_s, ledger.max_events)


def _postgres(settings: Settings) -> LedgerStore:
    """For the PostgreSQL outbox input: the ledger in the same database."""
    from publisher.ledger.postgres import PostgresLedger

    source = settings.input
    assert isinstance(source, PostgresInputSettings)
    password = None
    if source.password_file is not None:  # read once, at start-up
        password = source.password_file.read_text(encoding="utf-8").strip()
    ledger = settings.ledger
    return PostgresLedger(
        source.dsn.get_secret_value(),
        POSTGRES_TABLE,
        ledger.retention_s,
        ledger.max_events,
        password=password,
    )


POSTGRES_TABLE = "partner_event_ledger"
LEDGER_BUILDERS: dict[str, Callable[[Settings], LedgerStore]] = {
    "redis": _redis,
    "postgres": _postgres,
}
"""Stores by input kind; any other kind keeps its ledger in SQLite (ledger.path)."""


def ledger_path(settings: Settings) -> Path:
    if settings.ledger.path is not None:
        return settings.ledger.path
    if isinstance(settings.input, SpoolInputSettings):
        return settings.input.path.parent / "ledger.db"
    return DEFAULT_PATH


def build_ledger_store(settings: Settings) -> LedgerStore | None:
    """The store for this config, not started; None when ledger.retention_s is 0."""
    if settings.ledger.retention_s <= 0:
        return None
    return LEDGER_BUILDERS.get(settings.input.kind, _sqlite)(settings)


@asynccontextmanager
async def running_ledger(
    settings: Settings, metrics: Metrics | None = None
) -> AsyncIterator[Ledger | None]:
    """The pipeline's Ledger with its writer task, flushed and closed on exit."""
    store = build_ledger_store(settings)
    if store is None:
        yield None
        return
    await store.start()
    config = settings.ledger
    ledger = Ledger(store, config.flush_interval_s, config.retention_s, metrics=metrics)
    task = asyncio.create_task(ledger.run(), name="ledger-writer")
    try:
        yield ledger
    finally:
        ledger.stop()
        try:
            # Bounded: a store that hangs must not hold up the daemon's exit.
            await asyncio.wait_for(task, CLOSE_TIMEOUT_S)
        except Exception as exc:  # the ledger is best effort; the events are settled already
            log.warning("ledger_close_failed", error=repr(exc))
        await store.close()
