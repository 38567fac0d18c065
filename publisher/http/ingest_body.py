"""Decoding and validating an ingest request body into stored event bodies (pure, no I/O).

A body is one of:

- a JSON object: one event;
- a JSON array: one event per element;
- NDJSON: one event per non-blank line. It is read as NDJSON when the Content-Type says so
  (`application/x-ndjson` or `application/ndjson`) or when the whole body is not one JSON value.

Which parser reads a body is chosen by its Content-Type from BODY_PARSERS (with the CloudEvents
ones, in publisher.http.ingest.PARSERS; a body without a Content-Type is read as
`application/json`); other types are refused (HTTP 415).

Items are numbered from 0 in the order they were sent: array elements, or non-blank NDJSON
lines (blank lines are not items). An item that is not a JSON object, a line that is not JSON,
or an event that breaks a rule is *rejected* with its index and an error "field: rule"; the
other items are still accepted. The body as a whole is *malformed* (nothing is stored) when it
is empty, when it is a JSON value other than an object or an array (e.g. a number), or when
no line of it decodes as JSON (not JSON and not NDJSON: binary data, invalid UTF-8, a
truncated document).

Accepted events are re-encoded with orjson, one body per event, so the input holds compact
canonical JSON whatever the client's formatting was.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from publisher.core.digit_runs import has_long_digit_run
from publisher.core.event import Event, encode_json, event_from_object, json_type, with_headroom
from publisher.errors import InvalidEvent, PublisherError

NDJSON_CONTENT_TYPES = frozenset({"application/x-ndjson", "application/ndjson"})


Router = Callable[[Event], object]
"""Routes a validated event, raising InvalidEvent when it cannot be sent (unknown tenant...)."""


class MalformedBody(PublisherError):
    """The request body is not a JSON object, a JSON array or NDJSON."""


@dataclass(slots=True)
class Decoded:
    """What a body holds: the valid events encoded (bodies) and validated (events, the same
    order), and (index, error) for each rejected item."""

    bodies: list[bytes] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def accept(self, body: bytes, event: Event) -> None:
        self.bodies.append(body)
        self.events.append(event)


def decode_body(body: bytes, ndjson: bool, route: Router) -> Decoded:
    """Split, decode and validate every item; raise MalformedBody for a body that is none."""
    decoded = Decoded()
    for _ in decode_steps(body, ndjson, route, decoded):
        pass
    return decoded


BodyParser = Callable[[bytes, Router, Decoded, int], Iterator[None]]
"""Fills a Decoded from a body, yielding between slices of items (see decode_steps)."""


def _json_or_ndjson(body: bytes, route: Router, into: Decoded, slice_items: int) -> Iterator[None]:
    return decode_steps(body, False, route, into, slice_items)


def _ndjson(body: bytes, route: Router, into: Decoded, slice_items: int) -> Iterator[None]:
    return decode_steps(body, True, route, into, slice_items)


BODY_PARSERS: dict[str, BodyParser] = {
    "application/json": _json_or_ndjson,
    "application/x-ndjson": _ndjson,
    "application/ndjson": _ndjson,
}
"""Content-Type (without parameters, lower case) -> the parser of such bodies."""
DEFAULT_CONTENT_TYPE = "application/json"


def decode_steps(
    body: bytes, ndjson: bool, route: Router, into: Decoded, slice_items: int = 1000
) -> Iterator[None]:
    """Like decode_body, filling `into`; yields after every slice_items items.

    An async caller can let the loop run between slices: a 1 MiB body holds about ten
    thousand events, a hundred milliseconds of work that should not stall the loop at once.
    """
    if not body.strip():
        raise MalformedBody("the body is empty")
    if not ndjson:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # not one JSON value: NDJSON, or nothing at all
        else:
            yield from _decode_value(value, body, route, into, slice_items)
            return
    yield from _decode_lines(body, route, into, slice_items)


def _decode_value(
    value: Any, body: bytes, route: Router, decoded: Decoded, slice_items: int
) -> Iterator[None]:
    if isinstance(value, dict):
        items: list[Any] = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise MalformedBody(
            "the body must be a JSON object, a JSON array of objects or NDJSON, "
            f"not {json_type(value)}"
        )
    if not items:
        raise MalformedBody("the body is an empty array")
    # orjson turns integers past 64 bits into floats: a body that may hold one is decoded
    # again with the stdlib, which keeps them exact.
    if has_long_digit_run(body):
        _decode_exact(body, route, isinstance(value, dict), decoded)
        return
    for index, item in enumerate(items):
        if index and not index % slice_items:
            yield
        try:
            encoded = _encode_object(item)
            event = event_from_object(item, encoded)
            route(event)
        except _ITEM_ERRORS as exc:
            decoded.rejected.append((index, _item_error(exc)))
        else:
            decoded.accept(encoded, event)


def _decode_exact(body: bytes, route: Router, single: bool, decoded: Decoded) -> None:
    """The rare path for bodies with long digit runs: integers decoded exactly, then checked."""
    try:
        # With the same headroom as the pipeline's check, so depth limits agree on every path.
        value = with_headroom(json.loads, body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedBody(f"the body cannot be decoded exactly ({exc})") from None
    items = [value] if single else value
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise InvalidEvent("event", f"must be a JSON object, not {json_type(item)}")
            # Validate before encoding: orjson cannot encode integers past 64 bits.
            event = event_from_object(item)
            route(event)
            encoded = encode_json(item)
        except _ITEM_ERRORS as exc:
            decoded.rejected.append((index, _item_error(exc)))
        else:
            decoded.accept(encoded, event)


def _decode_lines(body: bytes, route: Router, decoded: Decoded, slice_items: int) -> Iterator[None]:
    index = 0
    any_json = False
    first_error = ""
    # The hot loop of ingest: bound methods in locals, one strip per line.
    loads, accept_body, accept_event = orjson.loads, decoded.bodies.append, decoded.events.append
    # One scan of the whole body rather than one per line: a run cannot span a line break.
    digits_checked = not has_long_digit_run(body)
    # readlines finds line breaks with memchr, where split(b"\n") compares byte by byte; each
    # line keeps its b"\n", which strip() drops with the rest of its whitespace.
    for line in io.BytesIO(body).readlines():
        line = line.strip()
        if not line:
            continue
        if index and not index % slice_items:
            yield
        index += 1
        try:
            item = loads(line)
        except orjson.JSONDecodeError as exc:
            first_error = first_error or f"item {index - 1}: {exc}"
            decoded.rejected.append((index - 1, f"event: not valid JSON ({exc})"))
            continue
        any_json = True
        try:
            if type(item) is not dict:
                raise InvalidEvent("event", f"must be a JSON object, not {json_type(item)}")
            event = event_from_object(item, line, digits_checked)
            route(event)
        except _ITEM_ERRORS as exc:
            decoded.rejected.append((index - 1, _item_error(exc)))
        else:
            # Already a JSON object: stored as sent, no re-encoding.
            accept_body(line)
            accept_event(event)
    if not any_json:
        raise MalformedBody(f"the body is neither JSON nor NDJSON ({first_error})")


def _encode_object(item: Any) -> bytes:
    if not isinstance(item, dict):
        raise InvalidEvent("event", f"must be a JSON object, not {json_type(item)}")
    return encode_json(item)


# TypeError: orjson refuses to encode what nests deeper than it can (about 250 levels).
# ValueError / RecursionError: the stdlib's exact re-decode of a pathological line.
_ITEM_ERRORS = (InvalidEvent, TypeError, ValueError, RecursionError)


def _item_error(exc: Exception) -> str:
    if isinstance(exc, InvalidEvent):
        return str(exc)
    if isinstance(exc, TypeError):
        return f"event: cannot be encoded as JSON ({exc})"
    return f"event: cannot be decoded ({type(exc).__name__})"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
