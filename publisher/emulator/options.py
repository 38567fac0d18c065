"""Settings of one emulator instance: bind address aside, everything the CLI flags set."""

from __future__ import annotations

from dataclasses import dataclass, field

from publisher.emulator.faults import FaultConfig

DEFAULT_ACCOUNT = "123456789012"


@dataclass(slots=True)
class EmulatorOptions:
    """What the emulator enforces and which faults it injects from the start.

    `faults` are in force from the start (`/_emulator/faults` changes them later). Without
    `secret_access_key` signatures are parsed but not verified; without `access_key_id` any
    access key is accepted. At most `max_recorded_events` delivered (and as many dropped)
    events are kept, the oldest half forgotten when full.
    """

    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    max_request_bytes: int = 1_048_576
    require_sources: bool = False
    default_account: str = DEFAULT_ACCOUNT
    max_recorded_events: int = 200_000
    faults: FaultConfig = field(default_factory=FaultConfig)
