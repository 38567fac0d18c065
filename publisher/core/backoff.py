"""Waiting out a dependency that is down (an input, its acks, the dead-letter store, a broker
link): waits that double from a first delay up to a ceiling, so a blip is retried at once and
an outage is not hammered."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Doubling:
    first_s: float
    max_s: float

    def after(self, delay_s: float) -> float:
        """The wait that follows a wait of delay_s (the first wait, after none)."""
        return min(self.max_s, max(self.first_s, delay_s * 2))
