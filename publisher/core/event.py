"""Events as the app sends them and entries as PutPartnerEvents takes them: validation, size.

Pure: no I/O. Each event is decoded once, its Detail encoded once and its AWS size computed
once; the checks follow docs/aws-contract.md, PutPartnerEvents, so that what we send is
accepted.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from publisher.core.digit_runs import has_long_digit_run
from publisher.core.field_names import unknown_field_rule
from publisher.errors import InvalidEvent

SOURCE_MAX_CHARS = 256
TENANT_MAX_CHARS = 256
ID_MAX_CHARS = 256
DETAIL_TYPE_MAX_CHARS = 128
RESOURCE_MAX_CHARS = 2048
DETAIL_MAX_DEPTH = 1000
TIME_ENTRY_BYTES = 14
MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z
# docs/aws-contract.md, PutPartnerEvents: entry rules, and Partner event sources.
SOURCE_PATTERN = re.compile(r"aws\.partner(/[\.\-_A-Za-z0-9]+){2,}")
# RFC 3339's extended format only: fromisoformat alone also takes ISO 8601's basic format
# (20261122T050000Z) and week dates, which AWS does not.
RFC3339_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_LOCAL_TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?)?", re.ASCII)
ACCOUNT_PATTERN = re.compile(r"\d{12}")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_FIELDS = frozenset({"tenant", "detail_type", "detail", "resources", "time", "id", "source"})
# orjson encodes at most 254 levels and the stdlib's C code counts each level as a Python call;
# AWS allows 1000, so the rare deep event goes through the stdlib with headroom (one at a time).
_RECURSION_LOCK = threading.Lock()
_RECURSION_HEADROOM = 2 * DETAIL_MAX_DEPTH


class InvalidJson(InvalidEvent):
    """The message is not a JSON object."""


class EventProblems(InvalidEvent):
    """Every rule an event breaks; `field` and `rule` are the first's, the text lists all."""

    def __init__(self, problems: list[InvalidEvent]) -> None:
        super().__init__(problems[0].field, problems[0].rule)
        self.problems = problems
        self.args = ("; ".join(f"{p.field}: {p.rule}" for p in problems),)


@dataclass(slots=True)
class Event:
    """A validated event; `detail` is already the JSON text PutPartnerEvents sends."""

    tenant: str
    detail_type: str
    detail: str
    detail_bytes: int
    resources: tuple[str, ...] = ()
    time: int | None = None
    id: str | None = None
    source: str | None = None


def decode_event(body: bytes) -> Event:
    """Parse and validate one event object; raise InvalidEvent naming the field and rule."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson("event", f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InvalidJson("event", f"must be a JSON object, not {json_type(obj)}")
    return event_from_object(obj, body)


def event_from_object(
    obj: dict[str, Any], body: bytes | None = None, body_digits_checked: bool = False
) -> Event:
    """Validate an already-decoded event object (body, when given, speeds up rare checks).

    body_digits_checked: the caller found no long digit run in a text holding `body` (a whole
    NDJSON request), so this event's integers all fit 64 bits without looking again. Not
    keyword-only: ingest's loop passes it positionally, a keyword call costing more per event.

    The hot path of the daemon: plain checks inline for the common case, a helper call only
    for the optional fields that are present. The first broken rule stops it; only then are
    all of the event's problems looked for (EventProblems when there are several).
    """
    try:
        tenant = obj.get("tenant")
        if type(tenant) is not str or not 0 < len(tenant) <= TENANT_MAX_CHARS:
            tenant = _required_text(obj, "tenant", TENANT_MAX_CHARS)
        detail_type = obj.get("detail_type")
        if type(detail_type) is not str or not 0 < len(detail_type) <= DETAIL_TYPE_MAX_CHARS:
            detail_type = _required_text(obj, "detail_type", DETAIL_TYPE_MAX_CHARS)
        detail = obj.get("detail")
        if type(detail) is not dict:
            raise InvalidEvent("detail", f"must be a JSON object, not {json_type(detail)}")
        # A body this short cannot nest too deep; without a long digit run no integer is
        # past 64 bits: the usual event needs neither walk (checked inline, no call).
        if (
            body is None
            or len(body) > DETAIL_MAX_DEPTH
            or (not body_digits_checked and has_long_digit_run(body))
        ):
            _check_detail_limits(detail, body)
        try:
            detail_json = orjson.dumps(detail)
        except orjson.JSONEncodeError:
            detail_json = encode_json(detail)
        event = Event(tenant, detail_type, detail_json.decode(), len(detail_json))
        # With three members or fewer, an unknown one would have left a required one missing.
        if len(obj) > 3:  # optional fields beside tenant, detail_type and detail
            if not obj.keys() <= _FIELDS:
                raise InvalidEvent(sorted(obj.keys() - _FIELDS)[0], "unknown field")
            _optional_fields(event, obj)
        return event
    except InvalidEvent as first:
        problems = all_problems(obj, body) or [first]
        raise (problems[0] if len(problems) == 1 else EventProblems(problems)) from None


def _optional_fields(event: Event, obj: dict[str, Any]) -> None:
    """Set the event's optional fields from the object, checking each one present."""
    resources = obj.get("resources")
    if resources is not None:
        event.resources = _resources(resources)
    time = obj.get("time")
    if time is not None:
        event.time = _epoch_seconds(time)
    if obj.get("id") is not None:
        event.id = _required_text(obj, "id", ID_MAX_CHARS)
    source = obj.get("source")
    if source is not None:
        event.source = _optional_source(source)


def all_problems(obj: dict[str, Any], body: bytes | None = None) -> list[InvalidEvent]:
    """Every rule the event object breaks, unknown fields first (with the intended name)."""
    found = [
        InvalidEvent(name, unknown_field_rule(name, _FIELDS))
        for name in sorted(obj.keys() - _FIELDS)
    ]
    checks: list[Callable[[], object]] = [
        lambda: _required_text(obj, "tenant", TENANT_MAX_CHARS),
        lambda: _required_text(obj, "detail_type", DETAIL_TYPE_MAX_CHARS),
        lambda: _detail(obj.get("detail"), body),
        lambda: _resources(obj.get("resources")),
        lambda: _epoch_seconds(obj.get("time")),
        lambda: obj.get("id") is None or _required_text(obj, "id", ID_MAX_CHARS),
        lambda: _optional_source(obj.get("source")),
    ]
    for check in checks:
        try:
            check()
        except InvalidEvent as problem:
            found.append(problem)
    return found


def _detail(detail: Any, body: bytes | None) -> None:
    if type(detail) is not dict:
        raise InvalidEvent("detail", f"must be a JSON object, not {json_type(detail)}")
    _check_detail_limits(detail, body)


def entry_size(source: str, event: Event) -> int:
    """AWS's size of one entry: UTF-8 bytes of its strings, 14 for Time when present."""
    detail_type = event.detail_type
    if source.isascii() and detail_type.isascii():  # the usual case, without two calls
        size = len(source) + len(detail_type) + event.detail_bytes
    else:
        size = _utf8_len(source) + _utf8_len(detail_type) + event.detail_bytes
    for resource in event.resources:
        size += _utf8_len(resource)
    if event.time is not None:
        size += TIME_ENTRY_BYTES
    return size


def request_entry(source: str, event: Event) -> dict[str, Any]:
    """The PutPartnerEvents entry for this event sent to `source`."""
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": event.detail_type,
        "Detail": event.detail,
    }
    if event.resources:
        entry["Resources"] = list(event.resources)
    if event.time is not None:
        entry["Time"] = event.time
    return entry


def is_valid_source(source: str) -> bool:
    return len(source) <= SOURCE_MAX_CHARS and SOURCE_PATTERN.fullmatch(source) is not None


def is_valid_account(account: str) -> bool:
    return ACCOUNT_PATTERN.fullmatch(account) is not None


def _required_text(obj: dict[str, Any], field: str, max_chars: int) -> str:
    value = obj.get(field)
    if value is None:
        raise InvalidEvent(field, "is required")
    if not isinstance(value, str):
        raise InvalidEvent(field, f"must be a string, not {json_type(value)}")
    if not value:
        raise InvalidEvent(field, "must not be empty")
    if len(value) > max_chars:
        raise InvalidEvent(field, f"must be at most {max_chars} characters, got {len(value)}")
    return value


def _optional_source(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_valid_source(value):
        raise InvalidEvent(
            "source",
            "must match aws.partner/<partner>/<name>... (letters, digits, . - _; "
            f"at most {SOURCE_MAX_CHARS} characters)",
        )
    return value


def _resources(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidEvent("resources", f"must be a list of strings, not {json_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidEvent(f"resources[{index}]", "must be a string")
        if len(item) > RESOURCE_MAX_CHARS:
            raise InvalidEvent(
                f"resources[{index}]", f"must be at most {RESOURCE_MAX_CHARS} characters"
            )
    return tuple(value)


def _epoch_seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidEvent("time", "must be an RFC 3339 string or epoch seconds")
    if isinstance(value, str):
        if not RFC3339_PATTERN.fullmatch(value):
            if _LOCAL_TIME_PATTERN.fullmatch(value):
                raise InvalidEvent("time", "an RFC 3339 timestamp needs a UTC offset (Z or +hh:mm)")
            raise InvalidEvent(
                "time",
                f"{value[:64]!r} is not an RFC 3339 timestamp "
                "(YYYY-MM-DDThh:mm:ss[.fraction] with Z or a +hh:mm offset)",
            )
        try:
            value = datetime.fromisoformat(value.upper()).timestamp()
        except ValueError:
            raise InvalidEvent("time", f"{value!r} is not a valid date and time") from None
    if not 0 <= value <= MAX_EPOCH_S:
        raise InvalidEvent("time", "must be between 1970 and 9999")
    return int(value)


def _check_detail_limits(detail: dict[str, Any], body: bytes | None) -> None:
    """Nesting <= 1000 and integers within signed 64 bits, walking only when they might not be."""
    # Nesting past the limit takes more opening brackets, so more bytes, than the limit.
    may_nest_deep = body is None or (
        len(body) > DETAIL_MAX_DEPTH and body.count(b"{") + body.count(b"[") > DETAIL_MAX_DEPTH
    )
    if may_nest_deep and nesting_depth(detail) > DETAIL_MAX_DEPTH:
        raise InvalidEvent("detail", f"nests deeper than {DETAIL_MAX_DEPTH} levels")
    if body is None or has_long_digit_run(body):
        # orjson turns integers past 64 bits into floats; the stdlib keeps them exact.
        exact = with_headroom(json.loads, body)["detail"] if body is not None else detail
        if _has_int_outside_int64(exact):
            raise InvalidEvent("detail", "holds an integer outside the signed 64-bit range")


def encode_json(value: Any) -> bytes:
    """Compact JSON; past orjson's nesting limit (about 254) the stdlib takes over."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        text = with_headroom(json.dumps, value, ensure_ascii=False, separators=(",", ":"))
        return str(text).encode()


def with_headroom(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a recursive stdlib JSON function with room for AWS's 1000 levels of nesting."""
    with _RECURSION_LOCK:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + _RECURSION_HEADROOM)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setrecursionlimit(limit)


def nesting_depth(value: Any) -> int:
    """How deep objects and arrays nest in a decoded JSON value (a flat object is 1)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _has_int_outside_int64(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, int) and not _INT64_MIN <= node <= _INT64_MAX:
            return True
    return False


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def json_type(value: Any) -> str:
    """How an error message names a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def tenant_of(body: bytes) -> str:
    """The `tenant` of an event body, or '' if it has none (it is refused when fetched)."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    tenant = event.get("tenant") if isinstance(event, dict) else None
    return tenant if isinstance(tenant, str) else ""
