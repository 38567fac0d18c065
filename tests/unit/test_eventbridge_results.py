"""Mapping a PutPartnerEvents reply to per-entry results: only the documented object counts."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.aws.putevents import CallFailed, EntryResult, parse_results
from publisher.aws.replies import MAX_REPLY_BYTES, decoded_body, results_from_body

META = {"ResponseMetadata": {"HTTPStatusCode": 200}}


def test_all_entries_published() -> None:
    response = {
        "FailedEntryCount": 0,
        "Entries": [{"EventId": "e-1"}, {"EventId": "e-2"}],
        **META,
    }
    assert parse_results(response, 2) == [EntryResult(event_id="e-1"), EntryResult(event_id="e-2")]


def test_accepted_results_are_entry_results_whatever_else_the_object_holds() -> None:
    response = {
        "Entries": [
            {"EventId": "e-1"},
            {"EventId": "e-2", "ErrorCode": None, "ErrorMessage": None},
            {"EventId": "e-3", "ErrorMessage": "ignored without an ErrorCode"},
        ]
    }
    results = parse_results(response, 3)
    assert [type(r) for r in results] == [EntryResult] * 3
    assert [(r.event_id, r.error_code, r.error_message) for r in results] == [
        ("e-1", None, None),
        ("e-2", None, None),
        ("e-3", None, None),
    ]


def test_partial_failure_keeps_request_order() -> None:
    response = {
        "FailedEntryCount": 2,
        "Entries": [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"},
            {"EventId": "e-2"},
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        ],
        **META,
    }
    assert parse_results(response, 3) == [
        EntryResult(error_code="ThrottlingException", error_message="slow down"),
        EntryResult(event_id="e-2"),
        EntryResult(error_code="MalformedDetail", error_message="Detail is malformed."),
    ]


def test_error_without_message() -> None:
    response = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}
    assert parse_results(response, 1) == [EntryResult(error_code="InternalFailure")]


@pytest.mark.parametrize(
    ("entries", "sent"),
    [
        ([{"EventId": "e-1"}], 2),
        ([{"EventId": "e-1"}, {"EventId": "e-2"}, {"EventId": "e-3"}], 2),
    ],
)
def test_count_mismatch_is_a_malformed_response(entries: list[dict[str, Any]], sent: int) -> None:
    response = {"FailedEntryCount": 0, "Entries": entries, **META}
    with pytest.raises(CallFailed) as caught:
        parse_results(response, sent)
    assert caught.value.code == "MalformedResponse"
    assert f"{len(entries)} results for {sent} entries" in caught.value.message
    assert caught.value.http_status == 200


@pytest.mark.parametrize(
    ("response", "why"),
    [
        ([], "not a JSON object"),
        (None, "not a JSON object"),
        ("Entries", "not a JSON object"),
        ({}, "no results for 1 entries"),
        ({"FailedEntryCount": 0}, "no results for 1 entries"),  # moto's shape, not AWS's
        ({"FailedEntryCount": 0, "Entries": []}, "0 results for 1 entries"),
        ({"Entries": "e-1"}, "no results for 1 entries"),
        ({"Entries": [1]}, "neither an EventId nor an ErrorCode"),
        ({"Entries": [{}]}, "neither an EventId nor an ErrorCode"),
        ({"Entries": [{"EventId": ""}]}, "neither an EventId nor an ErrorCode"),
        ({"Entries": [{"EventId": 7}]}, "neither an EventId nor an ErrorCode"),
        ({"Entries": [{"EventId": "e", "ErrorCode": "X"}]}, "neither an EventId nor an ErrorCode"),
        ({"Entries": [{"ErrorCode": ""}]}, "neither an EventId nor an ErrorCode"),
        ({"Entries": [{"ErrorCode": "X", "ErrorMessage": 3}]}, "neither an EventId nor"),
        ({"FailedEntryCount": 1, "Entries": [{"EventId": "e"}]}, "FailedEntryCount 1 but 0"),
    ],
)
def test_anything_but_one_result_per_entry_is_malformed(response: Any, why: str) -> None:
    with pytest.raises(CallFailed) as caught:
        parse_results(response, 1, b"the raw body")
    assert caught.value.code == "MalformedResponse"
    assert why in caught.value.message
    assert "HTTP 200, 12 bytes: 'the raw body'" in caught.value.message


def test_malformed_quotes_only_the_first_bytes_of_a_long_body() -> None:
    with pytest.raises(CallFailed) as caught:
        results_from_body(b"[" + b" " * 10_000 + b"]", 1, None)
    assert "10002 bytes" in caught.value.message
    assert len(caught.value.message) < 400


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "not JSON"),
        (b"<html>", "not JSON"),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),  # deeper than any parser should follow
        (b" " * (MAX_REPLY_BYTES + 1), f"over {MAX_REPLY_BYTES} bytes"),
    ],
)
def test_a_body_that_cannot_be_read_is_malformed(body: bytes, why: str) -> None:
    with pytest.raises(CallFailed) as caught:
        results_from_body(body, 1, None)
    assert (caught.value.code, caught.value.http_status) == ("MalformedResponse", 200)
    assert why in caught.value.message


OK_BODY = b'{"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]}'


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        (None, OK_BODY),
        ("identity", OK_BODY),
        ("gzip", gzip.compress(OK_BODY)),
        ("x-gzip", gzip.compress(OK_BODY)),
        ("deflate", zlib.compress(OK_BODY)),
    ],
)
def test_a_content_coding_we_did_not_ask_for_is_undone(coding: str | None, encoded: bytes) -> None:
    assert results_from_body(encoded, 1, coding) == [EntryResult(event_id="e-1")]


@pytest.mark.parametrize(
    ("coding", "encoded", "why"),
    [
        ("br", b"\x0b\x02", "unsupported Content-Encoding 'br'"),
        ("gzip", b"not gzip", "corrupt gzip body"),
        ("gzip", gzip.compress(b" " * (MAX_REPLY_BYTES + 1)), "decoded reply is over"),
    ],
)
def test_a_coding_we_cannot_undo_or_a_bomb_is_malformed(
    coding: str, encoded: bytes, why: str
) -> None:
    with pytest.raises(CallFailed) as caught:
        decoded_body(encoded, coding, 200)
    assert caught.value.code == "MalformedResponse"
    assert why in caught.value.message


def test_call_failed_carries_code_message_and_status() -> None:
    error = CallFailed("ThrottlingException", "Rate exceeded", 400)
    assert (error.code, error.message, error.http_status) == (
        "ThrottlingException",
        "Rate exceeded",
        400,
    )
    assert str(error) == "ThrottlingException: Rate exceeded"


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["Entries", "FailedEntryCount", "EventId", "ErrorCode", "ErrorMessage"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(reply=JSON, sent=st.integers(min_value=1, max_value=3))
def test_any_json_reply_gives_one_result_per_entry_or_malformed(reply: Any, sent: int) -> None:
    outcome: list[EntryResult] | str
    try:
        outcome = results_from_body(orjson.dumps(reply), sent, None)
    except CallFailed as exc:
        outcome = exc.code
    if isinstance(outcome, str):
        assert outcome == "MalformedResponse"
    else:
        assert len(outcome) == sent
        assert all((r.event_id is None) != (r.error_code is None) for r in outcome)
