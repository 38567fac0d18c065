"""Ingest hands along, for each stored body, the event it validated: the one intake would get."""

from __future__ import annotations

import orjson
import pytest

from publisher.core.event import Event, decode_event
from publisher.http.ingest_body import decode_body


def route(event: Event) -> object:
    if event.tenant != "acme":
        raise LookupError("unexpected tenant in this test")
    return None


ITEMS = [
    {"tenant": "acme", "detail_type": "A", "detail": {"n": 1}},
    {"tenant": "acme", "detail_type": "B", "detail": {"ü": "ß"}, "resources": ["r"]},
    {"tenant": "acme", "detail_type": "C", "detail": {}, "time": "2026-01-01T00:00:00Z"},
    {"tenant": "acme", "detail_type": "D"},  # no detail: rejected
]


@pytest.mark.parametrize(
    ("body", "ndjson"),
    [
        (orjson.dumps(ITEMS, option=orjson.OPT_INDENT_2), False),  # an array, re-encoded
        (b"\n".join(orjson.dumps(item) for item in ITEMS) + b"\n", True),  # lines, as sent
        (orjson.dumps(ITEMS[0]), False),  # one object
        # 19 digits: decoded again with the stdlib, which keeps integers exact
        (b'[{"tenant":"acme","detail_type":"X","detail":{"big":-1234567890123456789}}]', False),
    ],
    ids=["array", "ndjson", "object", "exact-integers"],
)
def test_each_event_equals_what_decoding_its_stored_body_gives(body: bytes, ndjson: bool) -> None:
    decoded = decode_body(body, ndjson, route)
    assert decoded.bodies
    assert len(decoded.events) == len(decoded.bodies)
    assert decoded.events == [decode_event(stored) for stored in decoded.bodies]


@pytest.mark.parametrize("ndjson", [False, True])
def test_rejections_suggest_the_intended_field_and_list_every_problem(ndjson: bool) -> None:
    good = {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": 1}}
    near_miss = {"tenant": "acme", "detailType": "OrderCreated", "detail": {"n": 2}}
    several = {"Tenant": "acme", "detail-type": "X", "detail": "text"}
    items = [good, near_miss, several]
    body = b"\n".join(orjson.dumps(item) for item in items) if ndjson else orjson.dumps(items)
    decoded = decode_body(body, ndjson, lambda event: None)
    assert len(decoded.events) == 1
    assert decoded.rejected == [
        (1, "detailType: unknown field; did you mean detail_type?; detail_type: is required"),
        (
            2,
            "Tenant: unknown field; did you mean tenant?; "
            "detail-type: unknown field; did you mean detail_type?; "
            "tenant: is required; detail_type: is required; "
            "detail: must be a JSON object, not a string",
        ),
    ]


def test_one_big_integer_in_an_ndjson_body_rejects_only_its_line() -> None:
    good = b'{"tenant":"acme","detail_type":"T","detail":{"n":1}}'
    big = b'{"tenant":"acme","detail_type":"T","detail":{"n":18446744073709551616}}'
    decoded = decode_body(b"\n".join([good, big, good]), True, lambda event: None)
    assert decoded.bodies == [good, good]
    assert [index for index, _ in decoded.rejected] == [1]
    assert "64-bit" in decoded.rejected[0][1]
