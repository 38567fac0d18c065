"""Fault injection: which calls and entries fail, decided by one seeded RNG so runs repeat.

Decisions are drawn synchronously when a call arrives, in a fixed order (drop, throttle,
500, 503, drop-after, malformed, then one draw per code per valid entry), and only for rates
above zero, so a given seed and request sequence always yields the same faults.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field, fields
from typing import Any

from publisher.emulator.protocol import AwsError

# Messages the emulator returns for injected per-entry errors. AWS documents the codes
# (PutEvents' list) but not their texts; these follow the partner guide's wording where it has one.
ENTRY_ERROR_MESSAGES: dict[str, str] = {
    "InternalFailure": "Internal Service Error",
    "ThrottlingException": "Rate exceeded",
    "AccessDeniedException": "User is not authorized to perform: events:PutPartnerEvents",
    "InvalidAccountIdException": "Account ID is not valid.",
    "InvalidArgument": "Parameter is not valid.",
    "MalformedDetail": "Detail is malformed.",
    "RedactionFailure": "Failed to redact the event.",
    "NotAuthorizedForSourceException": "Not authorized for the source.",
    "NotAuthorizedForDetailTypeException": "Not authorized for the detail type.",
}

# 200 replies that are not the documented object: what broken gateways and stand-ins send.
MALFORMED_REPLIES = (
    b"[]",
    b"null",
    b'{"Entries":[1]}',
    b'{"FailedEntryCount":0}',
    b'{"FailedEntryCount":0,"Entries":[{}]}',
    b'{"FailedEntryCount":0,"Entries":[',
    b"<html><body>Bad Gateway</body></html>",
)

THROTTLED = AwsError("ThrottlingException", "Rate exceeded", 400)
INTERNAL = AwsError("InternalException", "An internal error occurred.", 500)
UNAVAILABLE = AwsError("ServiceUnavailable", "Service is unavailable. Try again later.", 503)


class CallFault(enum.Enum):
    """What happens to a whole PutPartnerEvents call."""

    NONE = "none"
    DROP = "drop"
    THROTTLE = "throttle"
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    DROP_AFTER = "drop_after"
    MALFORMED = "malformed"


@dataclass(slots=True)
class FaultConfig:
    """The fault settings, also the JSON shape of `/_emulator/faults`."""

    entry_error_rates: dict[str, float] = field(default_factory=dict)
    throttle_rate: float = 0.0
    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    latency_ms: int = 0
    seed: int = 0
    malformed_rate: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: object) -> FaultConfig:
        """Build from JSON, missing keys at their defaults; ValueError names a bad field."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        config = cls()
        rates = data.get("entry_error_rates", {})
        if not isinstance(rates, dict):
            raise ValueError("entry_error_rates must map error codes to rates")
        config.entry_error_rates = {
            str(k): _rate(f"entry_error_rates.{k}", v) for k, v in rates.items()
        }
        for name in (
            "throttle_rate",
            "error_500_rate",
            "error_503_rate",
            "drop_rate",
            "drop_after_rate",
            "malformed_rate",
        ):
            setattr(config, name, _rate(name, data.get(name, 0.0)))
        config.latency_ms = _non_negative_int("latency_ms", data.get("latency_ms", 0))
        config.seed = _non_negative_int("seed", data.get("seed", 0))
        return config


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1")
    return float(value)


def _non_negative_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


class FaultInjector:
    """Draws fault decisions from a Random seeded by the config, reseeded on every change."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)

    def configure(self, config: FaultConfig) -> None:
        """Replace every setting and restart the random sequence from the config's seed."""
        self.config = config
        self._rng = random.Random(config.seed)

    def _hit(self, rate: float) -> bool:
        return rate > 0.0 and self._rng.random() < rate

    def call_fault(self) -> CallFault:
        """The fate of the call, drawn before it takes any effect."""
        c = self.config
        if self._hit(c.drop_rate):
            return CallFault.DROP
        if self._hit(c.throttle_rate):
            return CallFault.THROTTLE
        if self._hit(c.error_500_rate):
            return CallFault.ERROR_500
        if self._hit(c.error_503_rate):
            return CallFault.ERROR_503
        if self._hit(c.drop_after_rate):
            return CallFault.DROP_AFTER
        if self._hit(c.malformed_rate):
            return CallFault.MALFORMED
        return CallFault.NONE

    def malformed_reply(self) -> bytes:
        """One of MALFORMED_REPLIES, drawn like the other faults."""
        return self._rng.choice(MALFORMED_REPLIES)

    def entry_fault(self) -> tuple[str, str] | None:
        """An injected (code, message) for one otherwise valid entry, or None."""
        for code, rate in self.config.entry_error_rates.items():
            if self._hit(rate):
                return code, ENTRY_ERROR_MESSAGES.get(code, f"Injected {code}")
        return None
