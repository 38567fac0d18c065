"""AWS's input rules for the emulated calls, with AWS-style error codes and messages.

Whole-call problems raise AwsError (`ValidationException` with the "N validation error(s)
detected: ..." text Coral services use, or `SerializationException` for wrong JSON types).
PutPartnerEvents entry problems are returned, not raised: each becomes that entry's ErrorCode
(`InvalidArgument` or `MalformedDetail`) and ErrorMessage, the way PutEvents reports them.
An empty string counts as a missing required field.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from publisher.core.event import nesting_depth, with_headroom
from publisher.emulator.protocol import AwsError

SOURCE_PATTERN = r"aws\.partner(/[\.\-_A-Za-z0-9]+){2,}"
NAME_PREFIX_PATTERN = r"aws\.partner/[\.\-_A-Za-z0-9]+/[/\.\-_A-Za-z0-9]*"
EVENT_BUS_NAME_PATTERN = r"[/\.\-_A-Za-z0-9]+"
# botocore's EventBusNameOrArn (DescribeEventBus takes either).
BUS_NAME_OR_ARN_PATTERN = (
    r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+"
)
ACCOUNT_PATTERN = r"\d{12}"
MAX_ENTRIES = 20
MAX_SOURCE_CHARS = 256
MAX_DETAIL_TYPE_CHARS = 128
MAX_RESOURCE_CHARS = 2048
MAX_DETAIL_DEPTH = 1000
TIME_SIZE_BYTES = 14
OVER_LIMIT_MESSAGE = "Total size of the entries in the request is over the limit."
MALFORMED_DETAIL_MESSAGE = "Detail is malformed."
NO_COMPLETE_ENTRY_MESSAGE = (
    "No entry in the request has all of the required parameters Source, DetailType and Detail."
)
REQUIRED_ENTRY_FIELDS = ("Source", "DetailType", "Detail")
ENTRY_MEMBERS = frozenset({"Time", "Source", "Resources", "DetailType", "Detail"})

_SOURCE_RE = re.compile(SOURCE_PATTERN)
# Every ASCII digit as "0", every other byte as "x": a run of 19 digits becomes a run of 19
# "0"s, which a substring search finds many times faster than a regex scan does.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_NINETEEN_DIGITS = b"0" * 19
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

EntryError = tuple[str, str]


def validation_error(messages: list[str]) -> AwsError:
    """One ValidationException carrying every failed constraint, worded as AWS does."""
    count = len(messages)
    noun = "error" if count == 1 else "errors"
    return AwsError(
        "ValidationException", f"{count} validation {noun} detected: " + "; ".join(messages)
    )


def constraint(value: object, member: str, rule: str) -> str:
    """One "Value 'x' at 'member' failed to satisfy constraint: Member must ..." clause."""
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{member}' failed to satisfy constraint: Member must {rule}"


def string_field(
    body: dict[str, Any],
    key: str,
    member: str,
    errors: list[str],
    *,
    pattern: str | None = None,
    max_len: int | None = None,
    required: bool = True,
) -> str | None:
    """Check one string member, appending a clause to `errors` per broken constraint."""
    value = body.get(key)
    if value is None:
        if required:
            errors.append(constraint(None, member, "not be null"))
        return None
    if not isinstance(value, str):
        raise AwsError("SerializationException", f"Expected a string for {key}.")
    if len(value) < 1:
        errors.append(constraint(value, member, "have length greater than or equal to 1"))
    if max_len is not None and len(value) > max_len:
        errors.append(constraint(value, member, f"have length less than or equal to {max_len}"))
    if pattern is not None and value and re.fullmatch(pattern, value) is None:
        errors.append(constraint(value, member, f"satisfy regular expression pattern: {pattern}"))
    return value


def limit_field(body: dict[str, Any], errors: list[str], maximum: int = 100) -> int | None:
    """Check an optional `Limit` member (1..maximum)."""
    value = body.get("Limit")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AwsError("SerializationException", "Expected an integer for Limit.")
    if value < 1:
        errors.append(constraint(value, "limit", "have value greater than or equal to 1"))
    elif value > maximum:
        errors.append(constraint(value, "limit", f"have value less than or equal to {maximum}"))
    return value


def raise_if_any(errors: list[str]) -> None:
    """Raise the ValidationException for the collected clauses, if there are any."""
    if errors:
        raise validation_error(errors)


def request_entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The `Entries` list after the whole-call checks (presence, JSON types, 1..20 items)."""
    entries = body.get("Entries")
    if entries is None:
        raise validation_error([constraint(None, "entries", "not be null")])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AwsError("SerializationException", "Entries must be a list of structures.")
    if not entries:
        raise validation_error(
            [constraint("[]", "entries", "have length greater than or equal to 1")]
        )
    if len(entries) > MAX_ENTRIES:
        raise validation_error(
            [
                constraint(
                    f"[{len(entries)} entries]", "entries", "have length less than or equal to 20"
                )
            ]
        )
    for entry in entries:
        _check_entry_types(entry)
    return entries


def _check_entry_types(entry: dict[str, Any]) -> None:
    if not entry.keys() <= ENTRY_MEMBERS:
        _refuse_unknown_members(entry)
    for key in REQUIRED_ENTRY_FIELDS:
        value = entry.get(key)
        if value is not None and value.__class__ is not str:
            raise AwsError("SerializationException", f"Expected a string for {key}.")
    resources = entry.get("Resources")
    if resources is not None and (
        not isinstance(resources, list) or not all(isinstance(r, str) for r in resources)
    ):
        raise AwsError("SerializationException", "Resources must be a list of strings.")
    time = entry.get("Time")
    if time is not None and (not isinstance(time, int | float) or isinstance(time, bool)):
        raise AwsError("SerializationException", "Time must be a timestamp in epoch seconds.")


def _refuse_unknown_members(entry: dict[str, Any]) -> None:
    # PutPartnerEvents routes by Source alone: a member such as EventBusName would be ignored,
    # which hides a misunderstanding, so it is refused (botocore refuses it client side too).
    unknown = sorted(set(entry) - ENTRY_MEMBERS)
    raise validation_error(
        [
            f"'{name}' is not a member of PutPartnerEventsRequestEntry (members: "
            + ", ".join(sorted(ENTRY_MEMBERS))
            + ("; partner events are routed by Source" if name == "EventBusName" else "")
            + ")"
            for name in unknown
        ]
    )


def entries_size(entries: list[dict[str, Any]]) -> int:
    """AWS's entry size rule: 14 bytes for a Time, UTF-8 bytes of the strings, summed."""
    total = 0
    for entry in entries:
        if entry.get("Time") is not None:
            total += TIME_SIZE_BYTES
        for key in REQUIRED_ENTRY_FIELDS:
            value = entry.get(key)
            if value:
                total += len(value) if value.isascii() else len(value.encode("utf-8"))
        for resource in entry.get("Resources") or ():
            total += len(resource) if resource.isascii() else len(resource.encode("utf-8"))
    return total


def is_complete(entry: dict[str, Any]) -> bool:
    """Whether the entry carries all three required fields (non-empty)."""
    return bool(entry.get("Source") and entry.get("DetailType") and entry.get("Detail"))


def check_entry(entry: dict[str, Any]) -> tuple[EntryError | None, dict[str, Any] | None]:
    """Validate one entry: (None, parsed detail) when it is fine, else (error, None)."""
    for key in REQUIRED_ENTRY_FIELDS:
        if not entry.get(key):
            return _invalid(key, f"{key} is a required argument."), None
    source: str = entry["Source"]
    if len(source) > MAX_SOURCE_CHARS:
        return _invalid(
            "Source", f"Provided Source is longer than {MAX_SOURCE_CHARS} characters."
        ), None
    if not source.isascii() or _SOURCE_RE.fullmatch(source) is None:
        return _invalid("Source", f"Source must satisfy the pattern {SOURCE_PATTERN}."), None
    if len(entry["DetailType"]) > MAX_DETAIL_TYPE_CHARS:
        return _invalid(
            "DetailType", f"Provided DetailType is longer than {MAX_DETAIL_TYPE_CHARS} characters."
        ), None
    for resource in entry.get("Resources") or ():
        if len(resource) > MAX_RESOURCE_CHARS:
            return _invalid(
                "Resources", f"Provided resource is longer than {MAX_RESOURCE_CHARS} characters."
            ), None
    detail = parse_detail(entry["Detail"])
    if detail is None:
        return ("MalformedDetail", MALFORMED_DETAIL_MESSAGE), None
    return None, detail


def _invalid(parameter: str, reason: str) -> EntryError:
    return ("InvalidArgument", f"Parameter {parameter} is not valid. Reason: {reason}")


def parse_detail(text: str) -> dict[str, Any] | None:
    """The Detail as a dict, or None when AWS would call it malformed."""
    try:
        detail = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None  # also covers nesting beyond orjson's own limit (1024)
    if not isinstance(detail, dict):
        return None
    # Both checks below are rare slow paths guarded by cheap scans of the raw text.
    if (
        text.count("{") + text.count("[") > MAX_DETAIL_DEPTH
        and nesting_depth(detail) > MAX_DETAIL_DEPTH
    ):
        return None
    if len(text) > 19 and _has_long_digit_run(text) and not _integers_fit_int64(text):
        return None
    return detail


def _has_long_digit_run(text: str) -> bool:
    # Whether the text may hold an integer literal of 19 digits or more (beyond int64 or near
    # it). JSON writes numbers in ASCII digits only: digits of other scripts can only be
    # inside strings, which the exact check ignores anyway.
    raw = text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZERO)
    return _NINETEEN_DIGITS in raw


def _integers_fit_int64(text: str) -> bool:
    # orjson turns integers beyond 64 bits into floats silently, so re-read the integer
    # literals exactly; parse_int sees only numbers, never digits inside strings.
    def exact_int(literal: str) -> int:
        number = int(literal)
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise OverflowError(literal)
        return number

    try:
        # With room for AWS's 1000 levels (docs/aws-contract.md, "Detail nesting"): the
        # stdlib counts each level as a Python call.
        with_headroom(json.loads, text, parse_int=exact_int)
    except (OverflowError, RecursionError, ValueError):
        return False
    return True
