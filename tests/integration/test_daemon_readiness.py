"""The daemon in this process: /readyz turns 200 only once every server it starts listens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from publisher import daemon as daemon_module
from publisher.daemon import DaemonState, serve
from publisher.emulator.server import RunningEmulator
from publisher.http.ingest import Ingest
from publisher.settings.loading import load_settings
from tests.e2e.processes import write_config


@pytest.mark.usefixtures("emulator_credentials")
async def test_not_ready_before_ingest_listens(
    tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(write_config(tmp_path, emulator.url))
    state = DaemonState()
    ready_while_starting: list[bool] = []
    start = Ingest.start

    async def observed_start(ingest: Ingest) -> None:
        checks = await state.readiness()
        ready_while_starting.append(all(value is True for value in checks.values()))
        await start(ingest)
        state.stop.set()

    monkeypatch.setattr(daemon_module.Ingest, "start", observed_start)
    await asyncio.wait_for(serve(settings, state), 60)
    assert ready_while_starting == [False]
