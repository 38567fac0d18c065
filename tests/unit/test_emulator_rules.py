"""The emulator's pure parts: size rule, Detail checks, fault draws, source transitions, flags."""

from __future__ import annotations

import argparse

import pytest

from publisher.commands.emulator import options_from_args, register
from publisher.emulator.faults import CallFault, FaultConfig, FaultInjector
from publisher.emulator.protocol import new_ids
from publisher.emulator.recorder import RecordList
from publisher.emulator.sources import (
    InvalidState,
    SourceExists,
    SourceNotFound,
    SourceRegistry,
    SourceState,
)
from publisher.emulator.validation import check_entry, entries_size, parse_detail

SOURCE = "aws.partner/example.com/acme/orders"


def test_size_rule() -> None:
    entries = [
        {"Source": "ab", "DetailType": "c", "Detail": "é", "Resources": ["xy", "z"], "Time": 1},
        {"Source": "ab", "DetailType": "c", "Detail": "{}"},
    ]
    assert entries_size(entries) == (2 + 1 + 2 + 3 + 14) + (2 + 1 + 2)


def test_detail_depth_boundary() -> None:
    assert parse_detail('{"a":' + "[" * 999 + "]" * 999 + "}") is not None
    assert parse_detail('{"a":' + "[" * 1000 + "]" * 1000 + "}") is None
    assert parse_detail('{"a":' + "[" * 2000 + "]" * 2000 + "}") is None


def test_detail_integer_bounds() -> None:
    assert parse_detail('{"a": -9223372036854775808}') == {"a": -(2**63)}
    assert parse_detail('{"a": 18446744073709551615}') is None
    assert parse_detail('{"a": 1.5e300, "b": "99999999999999999999"}') is not None


def test_detail_integer_bounds_wherever_the_literal_sits() -> None:
    # Past int64 in a nested list, after text with other scripts' digits: still malformed.
    assert parse_detail('{"n": "\u0661\u0662\u0663", "a": [{"b": -9223372036854775809}]}') is None
    assert parse_detail('{"note": "é", "a": 9223372036854775807}') == {"note": "é", "a": 2**63 - 1}
    # Nineteen digits of another script in a string are text, not a number.
    assert parse_detail('{"a": "' + "\u0669" * 19 + '"}') == {"a": "\u0669" * 19}


def test_check_entry_reports_first_problem() -> None:
    error, detail = check_entry({"Source": SOURCE, "DetailType": "", "Detail": "{}"})
    assert detail is None
    assert error == (
        "InvalidArgument",
        "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
    )
    error, detail = check_entry({"Source": SOURCE, "DetailType": "t", "Detail": '{"x": 1}'})
    assert (error, detail) == (None, {"x": 1})


def test_new_ids_are_version_4_uuids() -> None:
    ids = new_ids(50)
    assert len(set(ids)) == 50
    for event_id in ids:
        parts = event_id.split("-")
        assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
        assert parts[2][0] == "4"
        assert parts[3][0] in "89ab"


def test_same_seed_same_faults() -> None:
    config = FaultConfig(throttle_rate=0.3, entry_error_rates={"InternalFailure": 0.5}, seed=9)
    draws = []
    for _ in range(2):
        injector = FaultInjector(config)
        draws.append([(injector.call_fault(), injector.entry_fault()) for _ in range(200)])
    assert draws[0] == draws[1]
    calls = [call for call, _ in draws[0]]
    assert 30 < calls.count(CallFault.THROTTLE) < 90


def test_fault_order_and_extremes() -> None:
    injector = FaultInjector(FaultConfig(drop_rate=1.0, throttle_rate=1.0))
    assert injector.call_fault() is CallFault.DROP
    injector.configure(FaultConfig())
    assert injector.call_fault() is CallFault.NONE
    assert injector.entry_fault() is None


def test_source_transitions() -> None:
    registry = SourceRegistry()
    customer, partner = "111122223333", "123456789012"
    source = registry.create(SOURCE, customer, partner)
    assert source.state is SourceState.PENDING
    with pytest.raises(SourceExists):
        registry.create(SOURCE, customer, partner)
    with pytest.raises(SourceNotFound):
        registry.create_bus(SOURCE, partner)  # only the customer's account can
    registry.create_bus(SOURCE, customer)
    assert source.state is SourceState.ACTIVE
    with pytest.raises(SourceExists):
        registry.create_bus(SOURCE, customer)
    assert not registry.delete_bus(SOURCE, partner)
    assert registry.delete_bus(SOURCE, customer)
    assert source.state is SourceState.PENDING
    registry.delete(SOURCE, "999999999999", partner)  # another account: no effect
    registry.delete(SOURCE, customer, "999999999999")  # another partner: no effect
    assert source.state is SourceState.PENDING
    assert [s.name for s in registry.with_prefix("aws.partner/", partner)] == [SOURCE]
    assert registry.with_prefix("aws.partner/", customer) == []
    registry.delete(SOURCE, customer, partner)
    assert source.state is SourceState.DELETED
    with pytest.raises(InvalidState):
        registry.set_active(SOURCE, customer, True)
    assert registry.with_prefix("aws.partner/", partner) == []


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["emulator", *argv])


def test_flags_become_options() -> None:
    options = options_from_args(
        parse(
            "--region", "eu-west-1", "--accept-unknown-sources", "--max-request-bytes", "262144",
            "--account", "AKIDPARTNER=210987654321", "--account", "AKIDCUSTOMER=444455556666",
            "--fault-entry", "ThrottlingException=0.1", "--fault-entry", "InternalFailure=0.05",
            "--fault-throttle", "0.2", "--fault-500", "0.01", "--fault-503", "0.02",
            "--fault-drop", "0.03", "--fault-drop-after", "0.04", "--latency-ms", "5",
            "--seed", "7",
        )
    )  # fmt: skip
    assert options.region == "eu-west-1"
    assert options.accept_unknown_sources
    assert options.accounts == {"AKIDPARTNER": "210987654321", "AKIDCUSTOMER": "444455556666"}
    assert options.max_request_bytes == 262144
    faults = options.faults
    assert faults.entry_error_rates == {"ThrottlingException": 0.1, "InternalFailure": 0.05}
    assert (faults.throttle_rate, faults.error_500_rate, faults.error_503_rate) == (
        0.2,
        0.01,
        0.02,
    )
    assert (faults.drop_rate, faults.drop_after_rate) == (0.03, 0.04)
    assert (faults.latency_ms, faults.seed) == (5, 7)


def test_defaults_are_strict_with_a_partner_and_a_customer() -> None:
    options = options_from_args(parse())
    assert not options.accept_unknown_sources
    assert options.accounts == {"partner": "123456789012", "customer": "111122223333"}


@pytest.mark.parametrize("flag", ["AKID", "AKID=1234", "=111122223333", "AKID=11112222333x"])
def test_bad_account_flag(flag: str) -> None:
    with pytest.raises(SystemExit):
        parse("--account", flag)


def test_bad_entry_fault_flag() -> None:
    with pytest.raises(SystemExit):
        parse("--fault-entry", "InternalFailure")


def test_record_list_forgets_oldest_half_but_keeps_absolute_indexes() -> None:
    records = RecordList(max_records=10)
    for i in range(11):
        records.append({"i": i, "source": "a" if i % 2 else "b"})
    assert records.end == 11

    def numbers(since: int, source: str | None, limit: int = 100) -> tuple[list[int], int]:
        page, next_index = records.select(since, source, limit)
        return [r["i"] for r in page], next_index

    assert numbers(0, None) == ([6, 7, 8, 9, 10], 11)
    assert numbers(9, None) == ([9, 10], 11)
    assert numbers(0, "a") == ([7, 9], 11)
    records.clear()
    assert (records.end, records.select(0, None, 100)) == (0, ([], 0))


def test_record_list_pages_by_limit_with_the_next_index() -> None:
    records = RecordList(max_records=100)
    for i in range(7):
        records.append({"i": i, "source": "a" if i % 2 else "b"})
    page, next_index = records.select(0, None, 3)
    assert ([r["i"] for r in page], next_index) == ([0, 1, 2], 3)
    page, next_index = records.select(next_index, None, 3)
    assert ([r["i"] for r in page], next_index) == ([3, 4, 5], 6)
    # Filtered by source, `next` is just past the last record looked at.
    page, next_index = records.select(0, "a", 2)
    assert ([r["i"] for r in page], next_index) == ([1, 3], 4)
    page, next_index = records.select(next_index, "a", 2)
    assert ([r["i"] for r in page], next_index) == ([5], 7)
