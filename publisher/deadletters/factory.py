"""Builds the configured dead-letter store; `redis` is the default beside a Redis input."""

from __future__ import annotations

from publisher.deadletters.store import DeadLetterStore
from publisher.settings import RedisInputSettings, Settings


def dead_letter_kind(settings: Settings) -> str:
    if settings.dead_letter.kind is not None:
        return settings.dead_letter.kind
    return "redis" if isinstance(settings.input, RedisInputSettings) else "file"


def build_dead_letter_store(settings: Settings) -> DeadLetterStore:
    """The store for `dead_letter.kind`; call start() before use and close() after."""
    config = settings.dead_letter
    kind = dead_letter_kind(settings)
    if kind == "redis":
        from publisher.deadletters.redis import RedisDeadLetterStore, default_stream

        source = settings.input
        redis_input = source if isinstance(source, RedisInputSettings) else None
        url = config.url or (redis_input.url if redis_input else "redis://127.0.0.1:6379/0")
        stream = config.stream or default_stream(
            redis_input.stream if redis_input else "partner-events"
        )
        return RedisDeadLetterStore(url, stream)
    if kind == "sqs":
        from aiobotocore.session import AioSession

        from publisher.deadletters.sqs import SqsDeadLetterStore

        assert config.queue_url is not None  # the settings insist on it
        return SqsDeadLetterStore(
            config.queue_url,
            config.region or settings.aws.region,
            config.endpoint_url,
            AioSession(profile=settings.aws.profile),
        )
    if kind == "postgres":
        from publisher.deadletters.postgres import PostgresDeadLetterStore

        assert config.dsn is not None  # the settings insist on it
        return PostgresDeadLetterStore(config.dsn, config.table)
    from publisher.deadletters.file import FileDeadLetterStore

    return FileDeadLetterStore(config.path)
