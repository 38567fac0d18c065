"""Live health of the daemon's parts: each part reports its own failures by name.

A part that fails (the dead-letter store cannot be written, acknowledgements cannot be
stored) marks its check failing with the reason, and marks it healthy again on its next
success; /readyz reads the current state, so it is true at the moment it is asked.
"""

from __future__ import annotations


class Health:
    """Named checks that parts mark failing (with why) or passing."""

    def __init__(self) -> None:
        self._failing: dict[str, str] = {}

    def fail(self, check: str, reason: str) -> None:
        self._failing[check] = reason

    def ok(self, check: str) -> None:
        self._failing.pop(check, None)

    def reason(self, check: str) -> str | None:
        """Why the check fails, or None while it passes."""
        return self._failing.get(check)

    def failing(self) -> dict[str, str]:
        return dict(self._failing)
