"""Fuzzing the ingest body parser and the event model (Hypothesis, bounded in examples).

Properties: any bytes get an answer (decoded, or MalformedBody), never another exception;
what ingest accepts the pipeline decodes to the same event; a JSON array and the same items
as NDJSON get the same verdict per item.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.core.event import Event, decode_event, event_from_object
from publisher.errors import InvalidEvent
from publisher.http.ingest_body import Decoded, MalformedBody, decode_body

# Bounded so the layer stays within its few minutes: about 20 s for this module when busy.
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
times = st.one_of(
    st.integers(min_value=-10, max_value=300_000_000_000),
    st.text(alphabet="0123456789-:TZ+. tz", max_size=32),
    st.sampled_from(["2026-11-22T05:00:00Z", "20261122T050000Z", "2026-11-22T05:00:00"]),
    json_values,
)
events = st.fixed_dictionaries(
    {"tenant": st.sampled_from(["acme", "", "ghost"]) | json_values},
    optional={
        "detail_type": st.text(max_size=130) | json_values,
        "detail": st.dictionaries(st.text(max_size=8), json_values, max_size=5) | json_values,
        "resources": st.lists(st.text(max_size=30), max_size=3) | json_values,
        "time": times,
        "id": st.text(max_size=30) | json_values,
        "source": st.text(max_size=30) | json_values,
        "extra": json_values,
    },
)


def accept_all(event: Event) -> None:
    return None


def verdicts(decoded: Decoded) -> list[bool]:
    """Per item, in order: accepted (True) or rejected (False)."""
    rejected = {index for index, _ in decoded.rejected}
    count = len(decoded.bodies) + len(rejected)
    return [index not in rejected for index in range(count)]


@FUZZ
@given(st.binary(max_size=2048), st.booleans())
def test_any_bytes_are_decoded_or_malformed(body: bytes, ndjson: bool) -> None:
    try:
        decoded = decode_body(body, ndjson, accept_all)
    except MalformedBody:
        return
    assert len(decoded.bodies) == len(decoded.events)


@FUZZ
@given(events)
def test_the_model_raises_only_invalid_event(item: dict[str, Any]) -> None:
    error: InvalidEvent | None = None
    try:
        event_from_object(item)
    except InvalidEvent as exc:
        error = exc
    if error is not None:  # says where and which rule
        assert error.field
        assert error.rule


@FUZZ
@given(st.lists(events, min_size=1, max_size=6))
def test_what_ingest_accepts_the_pipeline_decodes_the_same(items: list[dict[str, Any]]) -> None:
    body = json.dumps(items).encode()
    decoded = decode_body(body, False, accept_all)
    for stored, event in zip(decoded.bodies, decoded.events, strict=True):
        assert decode_event(stored) == event


@FUZZ
@given(st.lists(events, min_size=1, max_size=6))
def test_array_and_ndjson_agree_item_by_item(items: list[dict[str, Any]]) -> None:
    array = json.dumps(items).encode()
    lines = b"".join(json.dumps(item).encode() + b"\n" for item in items)
    as_array = decode_body(array, False, accept_all)
    as_lines = decode_body(lines, True, accept_all)
    assert verdicts(as_array) == verdicts(as_lines)
    assert [orjson.loads(b) for b in as_array.bodies] == [orjson.loads(b) for b in as_lines.bodies]
