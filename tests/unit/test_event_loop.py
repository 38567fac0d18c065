"""The event loop `run` and `send` run on (`event_loop`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import uvloop

from publisher.commands import event_loop
from publisher.commands.event_loop import loop_factory, run_on_loop
from publisher.errors import ConfigError
from publisher.settings import Settings, load_settings


async def _running_loop_type() -> type[asyncio.AbstractEventLoop]:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop())


def test_uvloop_is_the_default_and_runs_the_coroutine() -> None:
    assert Settings().event_loop == "uvloop"
    assert run_on_loop(_running_loop_type(), "uvloop") is uvloop.Loop


def test_asyncio_keeps_the_standard_loop() -> None:
    loop_type = run_on_loop(_running_loop_type(), "asyncio")
    assert loop_type is not uvloop.Loop
    assert issubclass(loop_type, asyncio.BaseEventLoop)


def test_without_uvloop_installed_the_standard_loop_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert loop_factory("uvloop") is None
    assert run_on_loop(_running_loop_type(), "uvloop") is not uvloop.Loop


def test_run_on_loop_returns_the_result_and_raises_what_main_raised() -> None:
    async def fails() -> None:
        raise ValueError("from main")

    async def answer() -> int:
        return 42

    assert run_on_loop(answer(), "uvloop") == 42
    with pytest.raises(ValueError, match="from main"):
        run_on_loop(fails(), "uvloop")
    assert event_loop.loop_factory("asyncio") is None


def test_event_loop_is_read_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("event_loop: asyncio\n")
    assert load_settings(path, {}).event_loop == "asyncio"
    path.write_text("event_loop: trio\n")
    with pytest.raises(ConfigError, match="event_loop"):
        load_settings(path, {})
    path.write_text("{}\n")
    assert load_settings(path, {"PUBLISHER__EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    assert load_settings(path, {}).event_loop == "uvloop"
