"""Builds the configured input adapter from its settings."""

from __future__ import annotations

from publisher.inputs.base import Input
from publisher.settings import (
    AmqpInputSettings,
    AwsSettings,
    InputSettings,
    PostgresInputSettings,
    RedisInputSettings,
    SpoolInputSettings,
    SqsInputSettings,
)


def build_input(
    settings: InputSettings,
    consumer: bool = True,
    aws: AwsSettings | None = None,
    accept_empty_spool: bool = False,
) -> Input:
    """The adapter for `input.kind`; call start() before use and close() after.

    consumer=False is for processes that only put (dlq replay, enqueue).
    accept_empty_spool: start on a spool file that lost pending events (see spool.mark).
    """
    if isinstance(settings, SpoolInputSettings):
        from publisher.inputs.spool.input import SpoolInput

        return SpoolInput(settings, consumer=consumer, accept_empty=accept_empty_spool)
    if isinstance(settings, RedisInputSettings):
        from publisher.inputs.redis_streams import RedisStreamsInput

        return RedisStreamsInput(settings, consumer=consumer)
    if isinstance(settings, SqsInputSettings):
        from publisher.inputs.sqs import SqsInput

        return SqsInput(settings, aws or AwsSettings())
    if isinstance(settings, PostgresInputSettings):
        from publisher.inputs.postgres import PostgresOutboxInput

        return PostgresOutboxInput(settings, consumer=consumer)
    if isinstance(settings, AmqpInputSettings):
        from publisher.inputs.amqp import AmqpInput

        return AmqpInput(settings, consumer=consumer)
    raise NotImplementedError(f"input kind {settings.kind!r} is not supported")
