"""Mapping a PutPartnerEvents response to per-entry results."""

from __future__ import annotations

from typing import Any

import pytest

from publisher.aws.putevents import CallFailed, EntryResult, parse_results

META = {"ResponseMetadata": {"HTTPStatusCode": 200}}


def test_all_entries_published() -> None:
    response = {
        "FailedEntryCount": 0,
        "Entries": [{"EventId": "e-1"}, {"EventId": "e-2"}],
        **META,
    }
    assert parse_results(response, 2) == [EntryResult(event_id="e-1"), EntryResult(event_id="e-2")]


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


def test_missing_entries_with_failures_is_malformed() -> None:
    with pytest.raises(CallFailed) as caught:
        parse_results({"FailedEntryCount": 2}, 2)
    assert caught.value.code == "MalformedResponse"
    assert caught.value.http_status is None


def test_empty_response_is_malformed() -> None:
    with pytest.raises(CallFailed) as caught:
        parse_results({}, 1)
    assert caught.value.code == "MalformedResponse"


@pytest.mark.parametrize("entries", [[], None])
def test_moto_style_success_without_entries(entries: list[Any] | None) -> None:
    response: dict[str, Any] = {"FailedEntryCount": 0, **META}
    if entries is not None:
        response["Entries"] = entries
    assert parse_results(response, 3) == [EntryResult()] * 3


def test_call_failed_carries_code_message_and_status() -> None:
    error = CallFailed("ThrottlingException", "Rate exceeded", 400)
    assert (error.code, error.message, error.http_status) == (
        "ThrottlingException",
        "Rate exceeded",
        400,
    )
    assert str(error) == "ThrottlingException: Rate exceeded"
