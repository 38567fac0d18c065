"""The config sections other than `input:`, and `Settings`, the whole configuration."""

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from publisher.core.event import is_valid_account, is_valid_source
from publisher.settings.base import AWS_MAX_REQUEST_BYTES, _Section, is_loopback
from publisher.settings.inputs import InputSettings, SpoolInputSettings

EventLoopKind = Literal["uvloop", "asyncio"]


class AwsSettings(_Section):
    region: str = "us-east-1"
    endpoint_url: str | None = None
    profile: str | None = None
    ca_bundle: Path | None = None
    """Trust only these CAs (PEM), as botocore's ca_bundle; default: AWS_CA_BUNDLE, certifi."""
    proxies: dict[str, str] | None = None
    """{http: URL, https: URL} for every call, replacing HTTP(S)_PROXY and NO_PROXY."""


class IngestSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    token: SecretStr | None = None
    """Blank means none (never a token that an empty `Authorization: Bearer` matches)."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1 << 30)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """A request body must arrive within this time (408 otherwise): no trickling bodies."""
    idle_timeout_s: float = Field(default=15.0, gt=0, le=3600)
    """A connection with no request under way is closed after this long (slow headers too)."""
    max_connections: int = Field(default=1024, ge=1, le=65_536)
    """Connections past this many are closed at once."""
    dedupe_window_s: float = Field(default=86_400.0, ge=0, le=30 * 86_400)
    """How long a (tenant, id) is remembered: posted again meanwhile, it is a duplicate; 0: off."""
    dedupe_max_ids: int = Field(default=1_000_000, ge=1, le=1 << 32)
    """At most this many ids are remembered; past it the oldest are forgotten first."""
    dedupe_path: Path = Path("data/ingest-dedupe.db")
    """Where ids are remembered for inputs without a store of their own (SQS)."""

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _token_off_loopback(self) -> Self:
        if self.enabled and self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"ingest.token is required when ingest.host ({self.host}) is not a loopback address"
            )
        return self


class AdminSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    tenant_metrics_top_n: int = Field(default=20, ge=0, le=1000)
    """The per-tenant gauges cover the tenants with the largest backlogs, this many."""
    idle_timeout_s: float = Field(default=15.0, gt=0, le=3600)
    max_connections: int = Field(default=64, ge=1, le=65_536)
    ui: bool = False
    """The operations console at /ui (read-only unless `token` is set)."""
    token: SecretStr | None = None
    """When set, /ui and /v1/ answer 401 without it (Bearer header or the console's cookie)."""
    metrics_requires_token: bool = False
    """Also ask /metrics for the token (probes /healthz and /readyz never do)."""

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class PublishSettings(_Section):
    client: Literal["fast", "sdk"] = "fast"
    """fast: botocore's signer and endpoint over a pooled aiohttp session; sdk: aiobotocore."""
    max_entries: int = Field(default=20, ge=1, le=20)
    max_request_bytes: int = Field(default=262_144, ge=1024, le=AWS_MAX_REQUEST_BYTES)
    linger_ms: float = Field(default=20, ge=0, le=60_000)
    max_in_flight: int = Field(default=32, ge=1, le=1024)
    rate_limit_rps: float = Field(default=1400, gt=0, le=1_000_000)
    rate_limit_window_s: float = Field(default=2.5, gt=0, le=60)
    """The sliding window the rate is kept over: rate x window calls at most in any window."""
    max_buffered_events: int = Field(default=10_000, ge=1, le=10_000_000)
    request_timeout_s: float = Field(default=10.0, gt=0, le=600)
    connect_timeout_s: float = Field(default=3.0, gt=0, le=600)
    shutdown_grace_s: float = Field(default=20.0, ge=0, le=3600)


class RetrySettings(_Section):
    max_attempts: int = Field(default=12, ge=1, le=1000)
    base_delay_ms: float = Field(default=100, ge=0, le=3_600_000)
    max_delay_ms: float = Field(default=30_000, ge=0, le=3_600_000)
    max_age_s: float = Field(default=86_400, gt=0, le=30 * 86_400)
    max_unknown_attempts: int = Field(default=3, ge=1, le=1000)


class DeadLetterSettings(_Section):
    """Where dead letters are kept; every `dlq` command reads the same store."""

    kind: Literal["file", "redis", "sqs", "postgres"] | None = None
    """None: `redis` when the input is Redis, else `file`."""
    path: Path = Path("data/dead-letters.jsonl")
    """file: the JSONL file (replayed ids beside it in <path>.replayed)."""
    url: str | None = None
    """redis: defaults to input.url."""
    stream: str | None = None
    """redis: defaults to <input.stream>:dead-letters."""
    queue_url: str | None = None
    """sqs: the dead-letter queue (required)."""
    region: str | None = None
    """sqs: defaults to aws.region."""
    endpoint_url: str | None = None
    """sqs: defaults to the queue's regional endpoint."""
    dsn: str | None = None
    """postgres: libpq connection string (required)."""
    table: str = Field(default="partner_dead_letters", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    """postgres: created when missing."""

    @model_validator(mode="after")
    def _store_named(self) -> Self:
        if self.kind == "sqs" and not self.queue_url:
            raise ValueError("dead_letter.queue_url is required when dead_letter.kind is sqs")
        if self.kind == "postgres" and not self.dsn:
            raise ValueError("dead_letter.dsn is required when dead_letter.kind is postgres")
        return self


class LedgerSettings(_Section):
    """The event ledger behind `trace`: what became of each settled event, for a while."""

    retention_s: float = Field(default=604_800, ge=0)
    """How long a settled event is remembered; 0 turns the ledger off."""
    max_events: int = Field(default=1_000_000, ge=1)
    """The most events remembered; the oldest go first beyond it."""
    path: Path | None = None
    """SQLite ledger (spool and SQS inputs); defaults to ledger.db beside the spool, or
    data/ledger.db."""
    flush_interval_s: float = Field(default=0.5, gt=0)
    """How long settled outcomes may wait to be written in one batch."""


class SourcesSettings(_Section):
    """How the daemon tracks partner event source states (ListPartnerEventSourceAccounts)."""

    refresh: bool = True
    refresh_interval_s: float = Field(default=300.0, ge=1, le=86_400)
    pending: Literal["send", "hold", "dead_letter"] = "send"
    control_plane_rps: float = Field(default=10.0, gt=0, le=50)


class TenantSettings(_Section):
    account: str
    source: str
    region: str | None = None
    weight: float = Field(default=1.0, gt=0, le=1000)
    """Its share of the send capacity against the other tenants with events waiting."""
    max_events_per_s: float | None = Field(default=None, gt=0)
    """At most this many of its events sent a second; the rest wait in the input."""

    @model_validator(mode="after")
    def _aws_rules(self) -> Self:
        if not is_valid_account(self.account):
            raise ValueError(f"account {self.account!r} must be 12 digits")
        if not is_valid_source(self.source):
            raise ValueError(
                f"source {self.source!r} must match aws.partner/<partner>/<name>... "
                "(letters, digits, . - _; at most 256 characters)"
            )
        return self


_TENANTS_ADAPTER: TypeAdapter[dict[str, TenantSettings]] = TypeAdapter(dict[str, TenantSettings])


class Settings(_Section):
    aws: AwsSettings = Field(default_factory=AwsSettings)
    input: InputSettings = Field(default_factory=SpoolInputSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    dead_letter: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    tenants_file: Path | None = None
    """Optional YAML mapping of more tenants, re-read on SIGHUP without a restart."""
    event_loop: EventLoopKind = "uvloop"
    """The event loop of `run` and `send`: uvloop (where installed) or the standard one."""

    def redacted(self) -> dict[str, Any]:
        """The effective config as plain data, secrets replaced by '***'."""
        data = self.model_dump(mode="json")
        if data["ingest"].get("token") is not None:
            data["ingest"]["token"] = "***"
        for key in ("dsn", "url"):
            secret = getattr(self.input, key, None)
            if isinstance(secret, SecretStr):
                data["input"][key] = redact_url(secret.get_secret_value())
        if self.dead_letter.dsn is not None:
            data["dead_letter"]["dsn"] = redact_url(self.dead_letter.dsn)
        return data


def redact_url(url: str) -> str:
    """The URL with its password replaced by '***' (for logs and `config check`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # a libpq key=value string
        return "***" if "password" in url.lower() else url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{host}"
