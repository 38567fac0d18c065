"""Builds the configured input adapter from its settings."""

from __future__ import annotations

from typing import TypeVar

from publisher.inputs.base import Input
from publisher.inputs.lanes import LanedInput
from publisher.settings import (
    AmqpInputSettings,
    AwsSettings,
    InputSettings,
    PostgresInputSettings,
    RedisInputSettings,
    SpoolInputSettings,
    SqsInputSettings,
)

LaneSettings = TypeVar("LaneSettings", RedisInputSettings, SqsInputSettings)


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

        if not settings.streams:
            return RedisStreamsInput(settings, consumer=consumer)
        streams = [
            RedisStreamsInput(_one_lane(settings, stream=name), consumer=consumer)
            for name in settings.streams
        ]
        return LanedInput(streams, settings.streams, settings.lanes)
    if isinstance(settings, SqsInputSettings):
        from publisher.inputs.sqs import SqsInput

        if not settings.queue_urls:
            return SqsInput(settings, aws or AwsSettings())
        queues = [
            SqsInput(_one_lane(settings, queue_url=url), aws or AwsSettings())
            for url in settings.queue_urls
        ]
        return LanedInput(queues, settings.queue_urls, settings.lanes)
    if isinstance(settings, PostgresInputSettings):
        from publisher.inputs.postgres import PostgresOutboxInput

        return PostgresOutboxInput(settings, consumer=consumer)
    if isinstance(settings, AmqpInputSettings):
        from publisher.inputs.amqp import AmqpInput

        return AmqpInput(settings, consumer=consumer)
    raise NotImplementedError(f"input kind {settings.kind!r} is not supported")


def _one_lane(settings: LaneSettings, **lane: str) -> LaneSettings:
    """The settings of one lane of a laned input: a plain single stream or queue."""
    return settings.model_copy(
        update={**lane, "streams": [], "queue_urls": [], "lanes": {}}
        if isinstance(settings, RedisInputSettings)
        else {**lane, "queue_urls": [], "lanes": {}}
    )
