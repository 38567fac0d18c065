"""Typed configuration: one YAML file, every key overridable by PUBLISHER__SECTION__KEY."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from publisher.config_files import choose_config, log_choice
from publisher.core.event import is_valid_account, is_valid_source
from publisher.errors import ConfigError

ENV_PREFIX = "PUBLISHER__"

AWS_MAX_REQUEST_BYTES = 1_048_576
# Lower-case unquoted identifiers, optionally schema-qualified: safe to write into DDL as is.
OUTBOX_TABLE_PATTERN = r"^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,50}$"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A variable name: PUBLISHER__ then keys of letters, digits and single underscores, joined by
# double underscores (PUBLISHER____PUBLISH____LINGER_MS is a typo, not a key).
ENV_NAME_PATTERN = re.compile(r"PUBLISHER(__[A-Za-z0-9]+(_[A-Za-z0-9]+)*)+")


class _Section(BaseModel):
    # Numbers must be finite (inf/nan would pass every >= bound, then hang or kill the daemon).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _is_number(annotation: Any) -> bool:
    return annotation in (int, float) or (
        get_origin(annotation) in (Union, UnionType)
        and any(arg in (int, float) for arg in get_args(annotation))
    )


class AwsSettings(_Section):
    region: str = "us-east-1"
    endpoint_url: str | None = None
    profile: str | None = None
    ca_bundle: Path | None = None
    """Trust only these CAs (PEM), as botocore's ca_bundle; default: AWS_CA_BUNDLE, certifi."""
    proxies: dict[str, str] | None = None
    """{http: URL, https: URL} for every call, replacing HTTP(S)_PROXY and NO_PROXY."""


class SpoolInputSettings(_Section):
    kind: Literal["spool"] = "spool"
    path: Path = Path("data/spool.db")
    max_events: int = Field(default=1_000_000, ge=1, le=1 << 40)
    max_bytes: int = Field(default=1 << 30, ge=1024, le=1 << 50)
    visibility_timeout_s: float = Field(default=60.0, gt=0, le=43_200)


class RedisInputSettings(_Section):
    """A Redis Stream read through a consumer group; each entry's field `event` is the JSON."""

    kind: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"
    stream: str = "partner-events"
    group: str = "publisher"
    consumer: str | None = None
    """Unique per replica; defaults to <hostname>-<pid>."""
    visibility_timeout_s: float = Field(default=60.0, gt=0, le=43_200)
    max_events: int | None = Field(default=None, ge=1)
    """Refuse puts (ingest 503) while the stream holds this many entries; None: unbounded."""
    delete_acked: bool = True
    """XDEL entries once acknowledged; turn off when other consumer groups read the stream."""
    streams: list[str] = Field(default_factory=list)
    """Lanes: several streams read fairly instead of `stream`; tenants go by `lanes` or hash."""
    lanes: dict[str, str] = Field(default_factory=dict)
    """Tenant -> stream (one of `streams`); tenants not named go by a hash of their id."""

    @model_validator(mode="after")
    def _lanes_known(self) -> RedisInputSettings:
        _check_lanes(self.lanes, self.streams, "streams")
        return self

    def lane_names(self) -> list[str]:
        return self.streams or [self.stream]


class SqsInputSettings(_Section):
    """An Amazon SQS queue; each message body is the event JSON."""

    kind: Literal["sqs"]
    queue_url: str = ""
    queue_urls: list[str] = Field(default_factory=list)
    """Lanes: several queues read fairly instead of `queue_url`; tenants go by `lanes` or hash."""
    lanes: dict[str, str] = Field(default_factory=dict)
    """Tenant -> queue URL (one of `queue_urls`); tenants not named go by a hash of their id."""
    region: str | None = None
    """Defaults to aws.region."""
    endpoint_url: str | None = None
    """Defaults to the queue's regional endpoint (set it for local stand-ins)."""
    visibility_timeout_s: float = Field(default=60.0, ge=1, le=43_200)
    wait_time_s: int = Field(default=20, ge=0, le=20)

    @model_validator(mode="after")
    def _one_queue_or_lanes(self) -> SqsInputSettings:
        if bool(self.queue_url) == bool(self.queue_urls):
            raise ValueError("set either queue_url or queue_urls (lanes)")
        _check_lanes(self.lanes, self.queue_urls, "queue_urls")
        return self

    def lane_names(self) -> list[str]:
        return self.queue_urls or [self.queue_url]


def _check_lanes(lanes: dict[str, str], names: list[str], key: str) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"{key} names a lane twice")
    unknown = sorted(set(lanes.values()) - set(names))
    if unknown:
        raise ValueError(f"lanes names {', '.join(unknown)}, not in {key}")


class PostgresInputSettings(_Section):
    """A PostgreSQL transactional outbox table; the column `event` (jsonb) holds the event."""

    kind: Literal["postgres"]
    dsn: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/postgres")
    """A libpq URL or key=value string; libpq also reads PGPASSWORD and a passfile."""
    password_file: Path | None = None
    """A file holding only the password (a mounted Kubernetes Secret); overrides the dsn's."""
    table: str = Field(default="partner_publisher_outbox", pattern=OUTBOX_TABLE_PATTERN)
    visibility_timeout_s: float = Field(default=60.0, gt=0, le=43_200)
    """The lease on claimed rows: a replica that dies holding them loses them after this."""
    poll_interval_s: float = Field(default=1.0, gt=0, le=3600)
    """The fallback when a notification is missed, and how soon expired leases are noticed."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Rows claimed per statement at most."""
    max_events: int | None = Field(default=None, ge=1)
    """Refuse puts (ingest 503, enqueue retries) while the table holds this many rows."""
    vacuum_interval_s: float | None = Field(default=None, gt=0, le=86_400)
    """VACUUM the table this often, for servers that run without autovacuum (needs the
    table's owner); None leaves it to autovacuum."""


class AmqpInputSettings(_Section):
    """A RabbitMQ queue; each message body is the event JSON."""

    kind: Literal["amqp"]
    url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    queue: str = Field(default="partner-events", min_length=1, max_length=255)
    prefetch: int = Field(default=1000, ge=1, le=65_535)
    """Unacknowledged deliveries this replica holds at most (basic.qos)."""
    queue_type: Literal["quorum", "classic"] = "quorum"
    """Used only when the daemon declares a missing queue."""
    dead_letter_exchange: str | None = None
    """The queue's dead-letter exchange, if it has one: messages that are not JSON are
    rejected to it. A queue the daemon declares gets it as x-dead-letter-exchange."""
    max_events: int | None = Field(default=None, ge=1)
    """Refuse puts while this many messages are ready; new queues get it as x-max-length."""
    visibility_timeout_s: float = Field(default=60.0, gt=0, le=43_200)
    """A delivery not renewed for this long is given back (nack, requeue)."""


InputSettings = Annotated[
    SpoolInputSettings
    | RedisInputSettings
    | SqsInputSettings
    | PostgresInputSettings
    | AmqpInputSettings,
    Field(discriminator="kind"),
]


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
    def _token_off_loopback(self) -> IngestSettings:
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
    def _store_named(self) -> DeadLetterSettings:
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
    def _aws_rules(self) -> TenantSettings:
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


def load_settings(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (named, or found: config_files), apply env overrides, validate."""
    env = os.environ if environ is None else environ
    choice = choose_config(path, env)
    log_choice(choice)
    path = choice.path
    data: dict[str, Any] = {}
    if path:
        data = _read_yaml(Path(path))
    overridden = _apply_env_overrides(data, env)
    _refuse_booleans_as_numbers(data, path)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, overridden)) from None


def load_tenants_file(path: Path) -> dict[str, TenantSettings]:
    """The tenants of a tenants file: a YAML mapping like the config's `tenants` section.

    An empty file, or one that does not end with a newline, is refused: it is most likely
    being rewritten in place, and reading it now would drop tenants that still have events.
    """
    text = _read_text(path)
    if not text.strip():
        raise ConfigError(f"tenants file {path} is empty")
    if not text.endswith("\n"):
        raise ConfigError(f"tenants file {path} does not end with a newline: it looks cut short")
    data = _parse_yaml(text, path)
    try:
        return _TENANTS_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    return _parse_yaml(_read_text(path), path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not UTF-8 text: {exc}") from None


def _parse_yaml(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections")
    return data


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """PUBLISHER__AWS__ENDPOINT_URL=x sets data['aws']['endpoint_url']; returns which variable
    set which dotted key ('aws.endpoint_url'), so errors can name the variable."""
    overridden: dict[str, str] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise ConfigError(
                f"{name}: malformed variable name; expected {ENV_PREFIX}<SECTION>__<KEY> "
                "(letters, digits and single underscores, parts joined by __)"
            )
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {key} is not a section")
            node = child
        node[keys[-1]] = _env_value(raw)
        overridden[".".join(keys)] = name
    return overridden


def _env_value(raw: str) -> Any:
    """Plain text stays text (pydantic turns "20" into 20 or "true" into True where a field
    wants it, and keeps "0123" or a digit-only token as written); null, quoted scalars, lists
    and maps parse as YAML."""
    if raw.strip() in {"", "null", "~", "Null", "NULL"}:
        return None
    quoted = len(raw) >= 2 and raw[0] in "\"'" and raw[-1] == raw[0]
    if quoted or raw.lstrip()[:1] in {"[", "{"}:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            return raw
    return raw


def _describe(
    exc: ValidationError, path: str | Path | None, overridden: Mapping[str, str] | None = None
) -> str:
    errors = exc.errors()
    locs = [".".join(str(part) for part in err["loc"]) for err in errors]
    if overridden and all(_set_by(loc, overridden) for loc in locs):
        where = "the environment overrides of the config are"
    else:
        where = f"config {path} is" if path else "config is"
    lines = [f"{where} invalid:"]
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        allowed = _allowed_range(err["loc"]) if err["type"] in _RANGE_ERRORS else None
        lines.append(
            f"  {loc}: {err['msg']}"
            + (f" (allowed: {allowed})" if allowed else "")
            + _set_by(loc, overridden or {})
        )
    return "\n".join(lines)


_RANGE_ERRORS = frozenset(
    {"finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal"}
)


def _allowed_range(loc: tuple[int | str, ...]) -> str | None:
    """The range a numeric key allows, as "[lo, hi]" (parentheses for open ends)."""
    if len(loc) < 2:
        return None
    for model in _section_models(str(loc[0])):
        field = model.model_fields.get(str(loc[-1]))
        if field is not None:
            return _range_text(field.metadata)
    return None


def _section_models(name: str) -> list[type[BaseModel]]:
    """The model(s) a top-level section may be (input: one per kind)."""
    section = Settings.model_fields.get(name)
    if section is None:
        return []
    candidates = [section.annotation, *get_args(section.annotation)]
    for candidate in list(candidates):
        candidates.extend(get_args(candidate))
    return [m for m in candidates if isinstance(m, type) and issubclass(m, _Section)]


def _refuse_booleans_as_numbers(data: dict[str, Any], path: str | Path | None) -> None:
    """YAML's `true` would otherwise become 1 in a number field (max_entries: true)."""
    errors = []
    for name, values in data.items():
        if not isinstance(values, dict):
            continue
        for model in _section_models(name):
            for key, value in values.items():
                field = model.model_fields.get(key)
                if isinstance(value, bool) and field is not None and _is_number(field.annotation):
                    errors.append(f"  {name}.{key}: a boolean is not a number")
    if errors:
        where = f"config {path}" if path else "config"
        raise ConfigError("\n".join([f"{where} is invalid:", *sorted(set(errors))]))


def _range_text(metadata: list[Any]) -> str | None:
    low = high = None
    for rule in metadata:
        for name, text in (("ge", "[{}"), ("gt", "({}")):
            if getattr(rule, name, None) is not None:
                low = text.format(getattr(rule, name))
        for name, text in (("le", "{}]"), ("lt", "{})")):
            if getattr(rule, name, None) is not None:
                high = text.format(getattr(rule, name))
    if low is None and high is None:
        return None
    return f"{low or '(-inf'}, {high or 'inf)'}"


def _set_by(loc: str, overridden: Mapping[str, str]) -> str:
    """' (set by PUBLISHER__X__Y)' when an environment variable set this key or a parent."""
    for key, variable in overridden.items():
        if loc == key or loc.startswith(key + "."):
            return f" (set by the environment variable {variable}, not the file)"
    return ""
