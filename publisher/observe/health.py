"""Live health of the daemon's parts: each part reports its own failures by name.

A part that fails (the dead-letter store cannot be written, acknowledgements cannot be
stored) marks its check failing with the reason, and marks it healthy again on its next
success; /readyz reads the current state, so it is true at the moment it is asked. A part
that only learns of failures when asked (ingest, from a client's post) marks them for a
while: once nobody retries, an outage that ended must not keep the daemon unready for ever.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Health:
    """Named checks that parts mark failing (with why, for ever or for a while) or passing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failing: dict[str, tuple[str, float | None]] = {}

    def fail(self, check: str, reason: str, for_s: float | None = None) -> None:
        until = None if for_s is None else self._clock() + for_s
        self._failing[check] = (reason, until)

    def ok(self, check: str) -> None:
        self._failing.pop(check, None)

    def reason(self, check: str) -> str | None:
        """Why the check fails, or None while it passes."""
        failing = self._failing.get(check)
        if failing is None:
            return None
        reason, until = failing
        if until is not None and self._clock() >= until:
            del self._failing[check]
            return None
        return reason

    def failing(self) -> dict[str, str]:
        return {check: reason for check in list(self._failing) if (reason := self.reason(check))}
