"""The `input:` section: one model per kind of input, chosen by `kind`."""

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    Field,
    SecretStr,
    model_validator,
)

from publisher.settings.base import OUTBOX_TABLE_PATTERN, _Section

# A list default is given as a value (pydantic copies it for each instance), not as
# default_factory=list: pydantic inspects a factory's signature, and list's is parsed from its
# text signature with the tokenize module, whose regular expressions every command would compile.


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
    streams: list[str] = Field(default=[])
    """Lanes: several streams read fairly instead of `stream`; tenants go by `lanes` or hash."""
    lanes: dict[str, str] = Field(default_factory=dict)
    """Tenant -> stream (one of `streams`); tenants not named go by a hash of their id."""

    @model_validator(mode="after")
    def _lanes_known(self) -> Self:
        _check_lanes(self.lanes, self.streams, "streams")
        return self

    def lane_names(self) -> list[str]:
        return self.streams or [self.stream]


class SqsInputSettings(_Section):
    """An Amazon SQS queue; each message body is the event JSON."""

    kind: Literal["sqs"]
    queue_url: str = ""
    queue_urls: list[str] = Field(default=[])
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
    def _one_queue_or_lanes(self) -> Self:
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
