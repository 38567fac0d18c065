"""Pure parts of the Redis Streams and SQS inputs: entry decoding, batch chunking."""

from __future__ import annotations

from publisher.inputs.redis_streams import _message
from publisher.inputs.sqs import BATCH_ENTRIES, SEND_BATCH_BYTES, _send_chunks


def test_a_stream_entry_becomes_a_message_with_its_id_and_time() -> None:
    message = _message(b"1795323600123-4", {b"event": b'{"tenant":"acme"}'}, 3)
    assert (message.id, message.body, message.deliveries) == (
        "1795323600123-4",
        b'{"tenant":"acme"}',
        3,
    )
    assert message.enqueued_at == 1795323600.123


def test_an_entry_without_an_event_field_keeps_its_fields_as_a_json_array() -> None:
    message = _message("1-0", [b"other", b"\xff", b"n", b"1"], 1)
    assert message.body == b'["other","\\\\xff","n","1"]'


def test_send_chunks_hold_at_most_ten_bodies_and_256_kib_in_order() -> None:
    small = [b"x" * 10] * 25
    assert [len(chunk) for chunk in _send_chunks(small)] == [10, 10, 5]
    big = [b"a" * 100_000, b"b" * 100_000, b"c" * 100_000, b"d" * 300_000, b"e"]
    chunks = _send_chunks(big)
    assert [b"".join(chunk)[:1] for chunk in chunks] == [b"a", b"c", b"d", b"e"]
    assert all(len(chunk) <= BATCH_ENTRIES for chunk in chunks)
    assert all(sum(map(len, chunk)) <= SEND_BATCH_BYTES for chunk in chunks if len(chunk) > 1)
    assert [body for chunk in chunks for body in chunk] == big
