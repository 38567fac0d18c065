"""Ingest's ids and repeats (pure parts of publisher.http.dedupe and publisher.inputs.dedupe)."""

from __future__ import annotations

import orjson

from publisher.core.event import decode_event
from publisher.http.dedupe import assign_ids
from publisher.http.ingest_body import Decoded
from publisher.inputs.dedupe import dedupe_key, split_repeats


def test_repeats_within_one_request_are_blanked_after_the_first() -> None:
    unique, repeats = split_repeats(["a", None, "a", "b", None, "b", "a"])
    assert unique == ["a", None, None, "b", None, None, None]
    assert repeats == [False, False, True, False, False, True, True]


def test_keys_cannot_collide_across_tenant_and_id() -> None:
    assert dedupe_key("a,b", "c") != dedupe_key("a", "b,c")
    assert dedupe_key('a"', "b") != dedupe_key("a", '"b')


def decoded(*bodies: bytes) -> Decoded:
    result = Decoded()
    for body in bodies:
        result.accept(body, decode_event(body))
    return result


def test_ids_are_assigned_into_body_and_event_where_missing() -> None:
    given = b'{"tenant":"acme","detail_type":"T","detail":{},"id":"keep"}'
    missing = b' {"tenant":"acme","detail_type":"T","detail":{"a":[1]}} '
    null = b'{"tenant":"acme","detail_type":"T","detail":{},"id":null}'
    batch = decoded(given, missing, null)
    assert assign_ids(batch) == [False, True, True]
    assert batch.bodies[0] == given
    for body, event in zip(batch.bodies[1:], batch.events[1:], strict=True):
        assert orjson.loads(body)["id"] == event.id
        assert decode_event(body).id == event.id
        assert event.id is not None
        assert len(event.id) == 36
    assert orjson.loads(batch.bodies[1])["detail"] == {"a": [1]}
