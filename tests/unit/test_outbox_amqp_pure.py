"""Pure parts of the outbox and RabbitMQ inputs: what jsonb is given, how deliveries count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from publisher.inputs.amqp import _message
from publisher.inputs.amqp_consumer import Delivery
from publisher.inputs.postgres import _storable


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        (b'{"tenant":"acme"}', '{"tenant":"acme"}'),
        (b"not json", '"not json"'),
        (b'{"x":"\\u0000"}', orjson.dumps('{"x":"\\u0000"}').decode()),
        (b"\xff{", '"\ufffd{"'),
    ],
)
def test_what_jsonb_cannot_hold_is_stored_as_a_json_string_of_its_text(
    body: bytes, stored: str
) -> None:
    assert _storable(body) == stored


def incoming(**fields: Any) -> Delivery:
    defaults = {"headers": {}, "redelivered": False, "timestamp": None, "delivery_tag": 7}
    return Delivery(body=b"{}", **{**defaults, **fields})


def test_quorum_queues_count_deliveries_and_classic_ones_only_say_redelivered() -> None:
    assert _message(3, incoming(headers={"x-delivery-count": 2}), 0.0).deliveries == 3
    assert _message(3, incoming(redelivered=True), 0.0).deliveries == 2
    assert _message(3, incoming(), 0.0).deliveries == 1


def test_the_message_id_names_the_channel_generation_and_the_publishers_time_is_kept() -> None:
    stamp = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC).timestamp()
    message = _message(3, incoming(timestamp=stamp), 0.0)
    assert (message.id, message.enqueued_at) == ("3.7", stamp)
