"""Settings of one emulator instance: bind address aside, everything the CLI flags set."""

from __future__ import annotations

from dataclasses import dataclass, field

from publisher.emulator.accounts import PARTNER_ACCOUNT, default_accounts

DEFAULT_ACCOUNT = PARTNER_ACCOUNT


@dataclass(slots=True)
class EmulatorOptions:
    """What the emulator enforces and which faults it injects from the start.

    Rates are probabilities in [0, 1]; `entry_error_rates` maps a per-entry error code
    (e.g. "ThrottlingException") to its rate. Without `secret_access_key` signatures are
    parsed but not verified; without `access_key_id` any access key is accepted. At most
    `max_recorded_events` delivered (and as many dropped) events are kept, the oldest
    half forgotten when full. `accounts` maps access key ids to account ids (unknown keys
    act for `default_account`, the partner); `accept_unknown_sources` delivers events for
    sources never created instead of failing them as AWS does.
    """

    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    max_request_bytes: int = 1_048_576
    accept_unknown_sources: bool = False
    accounts: dict[str, str] = field(default_factory=default_accounts)
    default_account: str = DEFAULT_ACCOUNT
    max_recorded_events: int = 200_000
    entry_error_rates: dict[str, float] = field(default_factory=dict)
    throttle_rate: float = 0.0
    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    latency_ms: int = 0
    seed: int = 0
