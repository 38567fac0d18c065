"""Event decoding and validation, AWS entry size and the PutPartnerEvents entry shape."""

from __future__ import annotations

import calendar
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.core.event import (
    MAX_EPOCH_S,
    Event,
    EventProblems,
    InvalidJson,
    decode_event,
    entry_size,
    event_from_object,
    request_entry,
)
from publisher.errors import InvalidEvent

SOURCE = "aws.partner/example.com/acme/orders"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# 2026-11-22T05:00:00Z, computed without datetime.fromisoformat (what the model uses).
EPOCH = calendar.timegm((2026, 11, 22, 5, 0, 0))


def body_of(**fields: Any) -> bytes:
    event: dict[str, Any] = {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"a": 1}}
    event.update(fields)
    return orjson.dumps(event)


def event_of(**fields: Any) -> Event:
    return decode_event(body_of(**fields))


def rejects(body: bytes) -> InvalidEvent:
    """The error decode_event raises for this body; it must be a rule error, not bad JSON."""
    with pytest.raises(InvalidEvent) as caught:
        decode_event(body)
    assert not isinstance(caught.value, InvalidJson)
    return caught.value


def raw_body(detail_json: str, extra: str = "") -> bytes:
    """An event whose detail is given as JSON text (for values orjson cannot produce)."""
    return f'{{"tenant":"acme","detail_type":"T","detail":{detail_json}{extra}}}'.encode()


def nested_json(levels: int) -> str:
    """A detail object `levels` deep: {"a":{"a":...{}}}."""
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


# -- the minimal valid event ----------------------------------------------------------------


def test_minimal_event_decodes_with_defaults() -> None:
    event = decode_event(b'{"tenant":"acme","detail_type":"OrderCreated","detail":{"a":1}}')
    assert event.tenant == "acme"
    assert event.detail_type == "OrderCreated"
    assert event.detail == '{"a":1}'
    assert event.detail_bytes == 7
    assert event.resources == ()
    assert event.time is None
    assert event.id is None
    assert event.source is None


# -- tenant ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, "is required"),
        (5, "must be a string"),
        ("", "must not be empty"),
        ("t" * 257, "at most 256"),
    ],
)
def test_tenant_rules(value: Any, rule: str) -> None:
    error = rejects(body_of(tenant=value))
    assert error.field == "tenant"
    assert rule in error.rule


def test_missing_tenant_key_is_required() -> None:
    error = rejects(b'{"detail_type":"T","detail":{}}')
    assert (error.field, error.rule) == ("tenant", "is required")


def test_tenant_of_256_chars_is_accepted() -> None:
    assert event_of(tenant="t" * 256).tenant == "t" * 256


# -- detail_type ----------------------------------------------------------------------------


def test_detail_type_of_exactly_128_chars_is_accepted() -> None:
    assert event_of(detail_type="d" * 128).detail_type == "d" * 128


def test_detail_type_of_128_multibyte_chars_is_accepted() -> None:
    # The limit counts characters, not bytes.
    assert event_of(detail_type="€" * 128).detail_type == "€" * 128


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("d" * 129, "at most 128 characters, got 129"),
        (None, "is required"),
        ("", "must not be empty"),
        (["x"], "must be a string, not an array"),
        (1, "must be a string, not a number"),
    ],
)
def test_detail_type_rules(value: Any, rule: str) -> None:
    error = rejects(body_of(detail_type=value))
    assert error.field == "detail_type"
    assert rule in error.rule


# -- detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail_json", "kind"),
    [
        ('"{\\"a\\":1}"', "a string"),
        ("42", "a number"),
        ("1.5", "a number"),
        ("[1,2]", "an array"),
        ("[]", "an array"),
        ("null", "null"),
        ("true", "a boolean"),
    ],
)
def test_detail_must_be_an_object(detail_json: str, kind: str) -> None:
    error = rejects(raw_body(detail_json))
    assert error.field == "detail"
    assert error.rule == f"must be a JSON object, not {kind}"


def test_missing_detail_is_rejected() -> None:
    error = rejects(b'{"tenant":"acme","detail_type":"T"}')
    assert error.field == "detail"


def test_empty_detail_object_is_accepted() -> None:
    event = decode_event(raw_body("{}"))
    assert event.detail == "{}"
    assert event.detail_bytes == 2


def test_detail_is_encoded_once_as_compact_json() -> None:
    event = decode_event(
        b'{ "tenant" : "acme", "detail_type": "T",\n "detail" : { "b" : [ 1 , 2.5 , "x" ] ,'
        b' "a" : { "n" : null, "t": true } } }'
    )
    # Compact, key order kept, no whitespace: the JSON text AWS receives.
    assert event.detail == '{"b":[1,2.5,"x"],"a":{"n":null,"t":true}}'
    assert event.detail_bytes == len(event.detail.encode())
    # The entry carries that very string: nothing is encoded again per request.
    assert request_entry(SOURCE, event)["Detail"] is event.detail


def test_detail_keeps_non_ascii_as_utf8() -> None:
    event = decode_event(raw_body('{"k":"\\u00e9\\u20ac"}'))
    assert event.detail == '{"k":"é€"}'
    assert event.detail_bytes == len('{"k":""}') + 2 + 3


def test_detail_nesting_of_exactly_1000_levels_is_accepted() -> None:
    detail_json = nested_json(1000)
    event = decode_event(raw_body(detail_json))
    # Deeper than orjson can encode (about 255 levels): the text must still be exact.
    assert event.detail == detail_json
    assert event.detail_bytes == len(detail_json)


def test_detail_nesting_of_1001_levels_is_rejected() -> None:
    error = rejects(raw_body(nested_json(1001)))
    assert error.field == "detail"
    assert "1000" in error.rule


def test_detail_nesting_counts_arrays_too() -> None:
    detail_json = '{"a":' + "[" * 999 + "]" * 999 + "}"
    assert decode_event(raw_body(detail_json)).detail == detail_json
    too_deep = '{"a":' + "[" * 1000 + "]" * 1000 + "}"
    assert rejects(raw_body(too_deep)).field == "detail"


def test_deep_detail_with_a_long_integer_is_checked_exactly() -> None:
    # A 19-digit run sends the body through the exact (stdlib) decoder, even 1000 levels deep.
    ok = '{"a":' * 999 + '{"n":1234567890123456789}' + "}" * 999
    assert decode_event(raw_body(ok)).detail == ok
    bad = '{"a":' * 999 + '{"n":12345678901234567890}' + "}" * 999
    assert rejects(raw_body(bad)).field == "detail"


def test_event_from_object_checks_depth_without_a_body() -> None:
    def nested(levels: int) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        for _ in range(levels - 1):
            detail = {"a": detail}
        return detail

    obj = {"tenant": "acme", "detail_type": "T", "detail": nested(1000)}
    assert event_from_object(obj).detail == nested_json(1000)
    with pytest.raises(InvalidEvent) as caught:
        event_from_object({"tenant": "acme", "detail_type": "T", "detail": nested(1001)})
    assert caught.value.field == "detail"


# -- integers within signed 64 bits ---------------------------------------------------------


@pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN, 0, -1, 10**18])
def test_integers_within_int64_are_accepted(value: int) -> None:
    event = decode_event(raw_body(f'{{"n":{value},"l":[{value}]}}'))
    assert orjson.loads(event.detail) == {"n": value, "l": [value]}
    assert event.detail == f'{{"n":{value},"l":[{value}]}}'


@pytest.mark.parametrize(
    "value",
    [
        INT64_MAX + 1,
        INT64_MIN - 1,
        2**64 - 1,  # orjson keeps this one an int
        2**64,  # orjson turns these into floats
        2**64 + 1,
        -(2**64) - 1,
        10**30,
    ],
)
def test_integers_outside_int64_are_rejected(value: int) -> None:
    error = rejects(raw_body(f'{{"deep":{{"list":[1,{value}]}}}}'))
    assert error.field == "detail"
    assert "64-bit" in error.rule


def test_long_digit_runs_that_are_not_big_integers_are_accepted() -> None:
    detail_json = '{"s":"123456789012345678901234567890","f":1.2345678901234567890,"e":1e30}'
    event = decode_event(raw_body(detail_json))
    assert orjson.loads(event.detail) == {
        "s": "123456789012345678901234567890",
        "f": 1.2345678901234567890,
        "e": 1e30,
    }


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**64, 10**30])
def test_event_from_object_rejects_big_integers_without_a_body(value: int) -> None:
    obj = {"tenant": "acme", "detail_type": "T", "detail": {"x": [{"y": value}]}}
    with pytest.raises(InvalidEvent) as caught:
        event_from_object(obj)
    assert caught.value.field == "detail"


def test_event_from_object_accepts_int64_bounds_without_a_body() -> None:
    obj = {"tenant": "acme", "detail_type": "T", "detail": {"x": [INT64_MIN, INT64_MAX]}}
    assert orjson.loads(event_from_object(obj).detail) == {"x": [INT64_MIN, INT64_MAX]}


# -- resources ------------------------------------------------------------------------------


def test_resources_are_kept_in_order() -> None:
    event = event_of(resources=["arn:aws:x:1", "plain text", "r" * 2048])
    assert event.resources == ("arn:aws:x:1", "plain text", "r" * 2048)


def test_empty_resources_are_none() -> None:
    assert event_of(resources=[]).resources == ()


@pytest.mark.parametrize(
    ("value", "field", "rule"),
    [
        ("arn:aws:x", "resources", "must be a list of strings, not a string"),
        ({"a": "b"}, "resources", "must be a list of strings, not an object"),
        (["ok", 5], "resources[1]", "must be a string"),
        (["ok", None], "resources[1]", "must be a string"),
        (["r" * 2049], "resources[0]", "at most 2048 characters"),
        (["ok", "ok", "€" * 2049], "resources[2]", "at most 2048 characters"),
    ],
)
def test_resources_rules(value: Any, field: str, rule: str) -> None:
    error = rejects(body_of(resources=value))
    assert error.field == field
    assert rule in error.rule


# -- time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-22T05:00:00Z",
        "2026-11-22T05:00:00+00:00",
        "2026-11-22T06:30:00+01:30",
        "2026-11-21T23:00:00-06:00",
        "2026-11-22T05:00:00.999Z",
        EPOCH,
        EPOCH + 0.75,
    ],
)
def test_time_forms_give_epoch_seconds(value: Any) -> None:
    assert event_of(time=value).time == EPOCH


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        ("1970-01-01T00:00:00Z", 0),
        (MAX_EPOCH_S, MAX_EPOCH_S),
        ("9999-12-31T23:59:59Z", MAX_EPOCH_S),
    ],
)
def test_time_range_bounds_are_accepted(value: Any, expected: int) -> None:
    assert event_of(time=value).time == expected


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("2026-11-22T05:00:00", "needs a UTC offset"),
        ("2026-11-22", "needs a UTC offset"),
        ("yesterday", "is not an RFC 3339 timestamp"),
        ("", "is not an RFC 3339 timestamp"),
        (True, "RFC 3339 string or epoch seconds"),
        (False, "RFC 3339 string or epoch seconds"),
        ([EPOCH], "RFC 3339 string or epoch seconds"),
        ({"s": EPOCH}, "RFC 3339 string or epoch seconds"),
        (-1, "between 1970 and 9999"),
        (-0.5, "between 1970 and 9999"),
        (MAX_EPOCH_S + 1, "between 1970 and 9999"),
        (1e300, "between 1970 and 9999"),
        ("1969-12-31T23:59:59Z", "between 1970 and 9999"),
        ("9999-12-31T23:59:59-00:01", "between 1970 and 9999"),
    ],
)
def test_time_rules(value: Any, rule: str) -> None:
    error = rejects(body_of(time=value))
    assert error.field == "time"
    assert rule in error.rule


def test_time_as_huge_integer_is_rejected_as_time() -> None:
    error = rejects(raw_body('{"a":1}', ',"time":100000000000000000000'))
    assert error.field == "time"


# -- id and source --------------------------------------------------------------------------


def test_id_is_kept() -> None:
    assert event_of(id="ord-1001").id == "ord-1001"


@pytest.mark.parametrize(
    ("value", "rule"), [(5, "must be a string"), ("", "must not be empty"), ("i" * 257, "256")]
)
def test_id_rules(value: Any, rule: str) -> None:
    error = rejects(body_of(id=value))
    assert error.field == "id"
    assert rule in error.rule


@pytest.mark.parametrize(
    "value",
    [
        SOURCE,
        "aws.partner/a/b",
        "aws.partner/example.com/acme-1/orders_v2/more.parts",
        "aws.partner/" + "x/" + "s" * 242,  # exactly 256 characters
    ],
)
def test_valid_sources_are_kept(value: str) -> None:
    assert event_of(source=value).source == value


@pytest.mark.parametrize(
    "value",
    [
        "aws.partner/example.com",  # one part only
        "aws.partner/",
        "aws.partnerx/a/b",
        "partner/example.com/acme/orders",
        "aws.partner/example.com/acme orders",
        "aws.partner/example.com/acme/ördern",
        "aws.partner/example.com/acme/orders/",
        "aws.partner/" + "x/" + "s" * 243,  # 257 characters
        "",
        5,
        ["aws.partner/a/b"],
    ],
)
def test_invalid_sources_are_rejected(value: Any) -> None:
    assert rejects(body_of(source=value)).field == "source"


def test_source_of_exactly_256_chars_is_256() -> None:
    assert len("aws.partner/" + "x/" + "s" * 242) == 256


# -- unknown fields, bad JSON ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["extra", "event_bus_name"])
def test_unknown_field_is_rejected_by_name(name: str) -> None:
    error = rejects(body_of(**{name: 1}))
    assert error.field == name
    assert error.rule == (
        "unknown field (fields: detail, detail_type, id, resources, source, tenant, time)"
    )


@pytest.mark.parametrize(
    ("name", "intended"),
    [
        ("detail-type", "detail_type"),
        ("detailType", "detail_type"),
        ("DetailType", "detail_type"),
        ("Detail", "detail"),
        ("Tenant", "tenant"),
        ("resource", "resources"),
        ("tenat", "tenant"),
    ],
)
def test_near_miss_field_names_suggest_the_intended_one(name: str, intended: str) -> None:
    error = rejects(body_of(**{name: 1}))
    assert (error.field, error.rule) == (name, f"unknown field; did you mean {intended}?")


def test_every_problem_of_an_event_is_reported() -> None:
    body = orjson.dumps(
        {"tenant": "", "detail-type": "OrderCreated", "detail": [1], "time": "yesterday"}
    )
    error = rejects(body)
    assert isinstance(error, EventProblems)
    assert str(error) == (
        "detail-type: unknown field; did you mean detail_type?; "
        "tenant: must not be empty; "
        "detail_type: is required; "
        "detail: must be a JSON object, not an array; "
        "time: 'yesterday' is not an RFC 3339 timestamp "
        "(YYYY-MM-DDThh:mm:ss[.fraction] with Z or a +hh:mm offset)"
    )
    assert (error.field, error.rule) == ("detail-type", "unknown field; did you mean detail_type?")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"[]", "an array"),
        (b'[{"tenant":"acme"}]', "an array"),
        (b"42", "a number"),
        (b'"text"', "a string"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_non_object_body_raises_invalid_json(body: bytes, kind: str) -> None:
    with pytest.raises(InvalidJson) as caught:
        decode_event(body)
    assert caught.value.field == "event"
    assert caught.value.rule == f"must be a JSON object, not {kind}"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"{'tenant': 'acme'}", b'{"tenant":"acme",}', b"\xff\xfe", b'{"a":NaN}', b"{} {}"],
)
def test_invalid_json_raises_invalid_json(body: bytes) -> None:
    with pytest.raises(InvalidJson) as caught:
        decode_event(body)
    assert caught.value.field == "event"
    assert "not valid JSON" in caught.value.rule


def test_invalid_json_is_an_invalid_event() -> None:
    assert issubclass(InvalidJson, InvalidEvent)


# -- size and entry shape -------------------------------------------------------------------


def test_entry_size_counts_utf8_bytes_of_every_field() -> None:
    event = event_of(
        detail_type="é€😀",  # 2 + 3 + 4 bytes
        detail={"k": "é"},  # {"k":"é"} = 9 characters, 10 bytes
        resources=["€", "ab"],  # 3 + 2 bytes
        time=EPOCH,  # 14 bytes
    )
    assert entry_size(SOURCE, event) == 35 + 9 + 10 + 3 + 2 + 14
    assert len(SOURCE) == 35


def test_entry_size_without_time_or_resources() -> None:
    event = event_of(detail_type="T", detail={})
    assert entry_size(SOURCE, event) == 35 + 1 + 2


def test_entry_size_counts_time_as_14_bytes_whatever_its_form() -> None:
    without = entry_size(SOURCE, event_of())
    assert entry_size(SOURCE, event_of(time="2026-11-22T05:00:00+00:00")) == without + 14
    assert entry_size(SOURCE, event_of(time=0)) == without + 14


def test_entry_size_uses_the_source_given() -> None:
    event = event_of()
    assert entry_size("aws.partner/a/b", event) == entry_size(SOURCE, event) - 35 + 15


def test_request_entry_without_optional_fields() -> None:
    event = event_of(detail_type="OrderCreated", detail={"a": 1})
    assert request_entry(SOURCE, event) == {
        "Source": SOURCE,
        "DetailType": "OrderCreated",
        "Detail": '{"a":1}',
    }


def test_request_entry_with_time_and_resources() -> None:
    event = event_of(resources=["r1", "r2"], time="2026-11-22T05:00:00.5Z", id="x")
    entry = request_entry(SOURCE, event)
    assert entry == {
        "Source": SOURCE,
        "DetailType": "OrderCreated",
        "Detail": '{"a":1}',
        "Resources": ["r1", "r2"],
        "Time": EPOCH,
    }
    assert type(entry["Time"]) is int


def test_request_entry_has_no_resources_key_when_empty() -> None:
    assert "Resources" not in request_entry(SOURCE, event_of(resources=[]))
    assert "Time" not in request_entry(SOURCE, event_of())


def entry_bytes(entry: dict[str, Any]) -> int:
    """AWS's rule applied to the wire entry, independently of entry_size."""
    size = sum(len(entry[key].encode("utf-8")) for key in ("Source", "DetailType", "Detail"))
    size += sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", []))
    return size + (14 if "Time" in entry else 0)


def test_entry_bytes_helper_agrees_on_a_known_case() -> None:
    event = event_of(detail_type="é", detail={}, resources=["€"], time=1)
    assert entry_bytes(request_entry(SOURCE, event)) == 35 + 2 + 2 + 3 + 14


# -- properties -----------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)
DETAILS = st.dictionaries(TEXT, JSON_VALUES, max_size=6)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    detail=DETAILS,
    detail_type=st.text(st.characters(codec="utf-8"), min_size=1, max_size=128),
    resources=st.lists(st.text(st.characters(codec="utf-8"), max_size=40), max_size=3),
    time=st.none() | st.integers(min_value=0, max_value=MAX_EPOCH_S),
)
def test_any_json_object_detail_round_trips(
    detail: dict[str, Any], detail_type: str, resources: list[str], time: int | None
) -> None:
    fields: dict[str, Any] = {"detail_type": detail_type, "detail": detail, "resources": resources}
    if time is not None:
        fields["time"] = time
    event = decode_event(body_of(**fields))
    assert orjson.loads(event.detail) == detail
    assert event.detail == orjson.dumps(detail).decode()
    assert event.detail_bytes == len(event.detail.encode("utf-8"))
    assert event.time == time
    expected = (
        len(SOURCE.encode("utf-8"))
        + len(detail_type.encode("utf-8"))
        + len(orjson.dumps(detail))
        + sum(len(r.encode("utf-8")) for r in resources)
        + (14 if time is not None else 0)
    )
    assert entry_size(SOURCE, event) == expected
    assert entry_bytes(request_entry(SOURCE, event)) == expected


@settings(max_examples=200)
@given(value=st.integers(min_value=-(2**80), max_value=2**80))
def test_integer_acceptance_matches_the_int64_range(value: int) -> None:
    body = raw_body(f'{{"v":[{value}]}}')
    if INT64_MIN <= value <= INT64_MAX:
        assert orjson.loads(decode_event(body).detail) == {"v": [value]}
    else:
        assert rejects(body).field == "detail"


def test_event_from_object_trusts_a_digit_scan_done_by_its_caller() -> None:
    # orjson has already turned 2**64 into a float: only the body's digits could tell.
    body = b'{"tenant":"acme","detail_type":"T","detail":{"n":18446744073709551616}}'
    obj = orjson.loads(body)
    assert (
        event_from_object(obj, body, body_digits_checked=True).detail
        == '{"n":1.8446744073709552e+19}'
    )
    with pytest.raises(InvalidEvent):
        event_from_object(obj, body)


def test_an_unknown_field_beside_the_three_required_ones_is_named() -> None:
    obj = {"tenant": "acme", "detail_type": "T", "detail": {}, "tennant": "x"}
    with pytest.raises(InvalidEvent) as caught:
        event_from_object(obj)
    assert caught.value.field == "tennant"
    assert "unknown field" in caught.value.rule
