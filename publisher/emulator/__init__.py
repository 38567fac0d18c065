"""A local, strict stand-in for EventBridge's partner calls, with fault injection."""

from __future__ import annotations

from publisher.emulator.options import EmulatorOptions
from publisher.emulator.server import RunningEmulator, build_app, running_emulator

__all__ = ["EmulatorOptions", "RunningEmulator", "build_app", "running_emulator"]
