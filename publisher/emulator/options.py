"""Settings of one emulator instance: bind address aside, everything the CLI flags set."""

from __future__ import annotations

from dataclasses import dataclass, field

from publisher.emulator.accounts import PARTNER_ACCOUNT, default_accounts
from publisher.emulator.faults import FaultConfig

DEFAULT_ACCOUNT = PARTNER_ACCOUNT


@dataclass(slots=True)
class EmulatorOptions:
    """What the emulator enforces and which faults it injects from the start.

    `faults` are in force from the start (`/_emulator/faults` changes them later). Without
    `secret_access_key` signatures are parsed but not verified; without `access_key_id` any
    access key is accepted. At most `max_recorded_events` delivered (and as many dropped)
    events are kept, the oldest half forgotten when full. `accounts` maps access key ids to
    account ids (unknown keys act for `default_account`, the partner);
    `accept_unknown_sources` delivers events for sources never created instead of failing
    them as AWS does. The network switches play what sits between a partner
    and AWS: `path_prefix` serves everything under a path (an API gateway), `tls_cert` and
    `tls_key` serve HTTPS, `gzip_responses` compresses replies ("accepted": when the request
    accepts gzip, "always": even when it does not).
    """

    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    max_request_bytes: int = 1_048_576
    accept_unknown_sources: bool = False
    accounts: dict[str, str] = field(default_factory=default_accounts)
    default_account: str = DEFAULT_ACCOUNT
    max_recorded_events: int = 200_000
    faults: FaultConfig = field(default_factory=FaultConfig)
    path_prefix: str = ""
    tls_cert: str | None = None
    tls_key: str | None = None
    gzip_responses: str = "off"


def prefix_path(path_prefix: str) -> str:
    """A path prefix as "/a/b" (no trailing slash), or "" for none."""
    stripped = path_prefix.strip("/")
    return f"/{stripped}" if stripped else ""
