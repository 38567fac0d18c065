"""Ingest's ids and repeats (pure parts of publisher.http.dedupe and publisher.inputs.dedupe)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from publisher.core.event import decode_event
from publisher.http.dedupe import _with_id, assign_ids, random_uuids
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


def test_a_body_of_events_without_ids_gets_one_each() -> None:
    bodies = [b'{"tenant":"acme","detail_type":"T","detail":{"n":%d}}' % n for n in range(3)]
    batch = decoded(*bodies)
    assert assign_ids(batch) == [True, True, True]
    assert len({event.id for event in batch.events}) == 3
    for body, event, original in zip(batch.bodies, batch.events, bodies, strict=True):
        assert event.id is not None
        assert body == original[:-1] + b',"id":"' + event.id.encode() + b'"}'


def test_a_body_without_ids_places_each_id_as_with_id_does_whatever_the_spacing() -> None:
    event = b'"tenant":"acme","detail_type":"T","detail":{}'
    bodies = [
        b"{" + event + b"}",
        b"{" + event + b" }",
        b" {" + event + b"}\n",
        b"{" + event + b',"id":null}',
        b"{" + event + b"}\t",
    ]
    batch = decoded(*bodies)
    assert assign_ids(batch) == [True] * len(bodies)
    for body, event_with_id, original in zip(batch.bodies, batch.events, bodies, strict=True):
        assert event_with_id.id is not None
        assert body == _with_id(original, event_with_id.id)
        assert decode_event(body).id == event_with_id.id


@pytest.mark.parametrize(
    ("body", "with_id"),
    [
        (b'{"a":1}', b'{"a":1,"id":"X"}'),
        (b'{"a":1,"id":null}', b'{"a":1,"id":null,"id":"X"}'),
        (b'{"a": {"b": 2}}', b'{"a": {"b": 2},"id":"X"}'),
        (b'{"a":1 }', b'{"a":1,"id":"X"}'),
        (b' {"a":1}\n', b'{"a":1,"id":"X"}'),
        (b"{}", b'{"id":"X"}'),
        (b"{ }", b'{"id":"X"}'),
    ],
)
def test_the_id_goes_after_the_last_member(body: bytes, with_id: bytes) -> None:
    assert _with_id(body, "X") == with_id
    assert orjson.loads(with_id)["id"] == "X"


def test_generated_ids_are_distinct_version_4_uuids_as_uuid_writes_them() -> None:
    ids = random_uuids(5000)
    assert len(set(ids)) == 5000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert random_uuids(0) == []
