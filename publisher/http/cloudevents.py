"""CloudEvents 1.0 over HTTP into ingest: structured, batched and binary mode (pure, no I/O).

Each CloudEvent becomes an event: `type` -> detail_type, `data` -> detail (a JSON object;
none at all is `{}`), `id` -> id, `time` -> time, `subject` -> the one resource, and the
extension attribute `tenant` -> tenant. `source` is the producer's URI reference in the
CloudEvents sense, not an EventBridge source, and is required but not carried over. A
CloudEvent with another specversion than 1.0, without a tenant, or with data that is not
JSON is rejected with the reason; the resulting event then passes the usual event rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from publisher.core.digit_runs import has_long_digit_run
from publisher.core.event import encode_json, event_from_object, json_type
from publisher.errors import InvalidEvent
from publisher.http.ingest_body import Decoded, MalformedBody, Router

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SPECVERSION = "1.0"
BINARY_MARKER = "ce-specversion"
# The OpenAPI document states the same pattern for `datacontenttype`.
JSON_MEDIA_TYPE = re.compile(
    r"(application/json|[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\+json)( *;.*)?"
)
_REQUIRED = ("specversion", "id", "source", "type")
_OPTIONAL_TEXT = ("time", "subject", "datacontenttype", "dataschema")

Steps = Callable[[bytes, Router, Decoded, int], Iterator[None]]
"""Fills a Decoded from a body, yielding between slices of items (as ingest_body's parsers)."""


def structured(body: bytes, route: Router, into: Decoded, slice_items: int) -> Iterator[None]:
    """One CloudEvent as a JSON object (the body); its errors are item 0's."""
    value = _json(body, "a CloudEvent in structured mode")
    if not isinstance(value, dict):
        raise MalformedBody(f"a structured CloudEvent is a JSON object, not {json_type(value)}")
    return _decode_items([value], route, into, slice_items)


def batch(body: bytes, route: Router, into: Decoded, slice_items: int) -> Iterator[None]:
    """A JSON array of CloudEvents; each is accepted or rejected on its own."""
    value = _json(body, "a CloudEvents batch")
    if not isinstance(value, list):
        raise MalformedBody(f"a CloudEvents batch is a JSON array, not {json_type(value)}")
    if not value:
        raise MalformedBody("the CloudEvents batch is empty")
    return _decode_items(value, route, into, slice_items)


PARSERS: dict[str, Steps] = {STRUCTURED: structured, BATCH: batch}
"""Content-Type -> parser, for ingest's table of body parsers."""


def binary_parser(headers: Mapping[str, str]) -> Steps | None:
    """The parser of a binary-mode CloudEvent (one with a `ce-specversion` header), else None.

    Whatever its Content-Type: in binary mode that is the type of `data`, checked as such."""
    if BINARY_MARKER not in headers:
        return None
    attributes: dict[str, Any] = {
        name[3:].lower(): unquote(value)
        for name, value in headers.items()
        if name.lower().startswith("ce-")
    }
    content_type = headers.get("Content-Type")
    if content_type is not None:
        attributes["datacontenttype"] = content_type

    def binary(body: bytes, route: Router, into: Decoded, slice_items: int) -> Iterator[None]:
        if body.strip():
            try:
                attributes["data"] = _loads(body)
            except (ValueError, RecursionError) as exc:
                into.rejected.append((0, f"data: must be JSON ({exc})"))
                return iter(())
        return _decode_items([attributes], route, into, slice_items)

    return binary


def to_event(cloudevent: Any) -> dict[str, Any]:
    """The event object a CloudEvent maps to; InvalidEvent names the attribute and the rule."""
    if not isinstance(cloudevent, dict):
        raise InvalidEvent("cloudevent", f"must be a JSON object, not {json_type(cloudevent)}")
    for name in _REQUIRED:
        value = cloudevent.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidEvent(name, "is required (a non-empty string) in a CloudEvent")
    if cloudevent["specversion"] != SPECVERSION:
        raise InvalidEvent(
            "specversion", f"{cloudevent['specversion']!r} is not supported; use {SPECVERSION}"
        )
    for name in _OPTIONAL_TEXT:
        if name in cloudevent and not isinstance(cloudevent[name], str):
            raise InvalidEvent(name, f"must be a string, not {json_type(cloudevent[name])}")
    tenant = cloudevent.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise InvalidEvent("tenant", "is required: the CloudEvents extension attribute `tenant`")
    event: dict[str, Any] = {
        "tenant": tenant,
        "detail_type": cloudevent["type"],
        "detail": _detail(cloudevent),
        "id": cloudevent["id"],
    }
    if cloudevent.get("time") is not None:
        event["time"] = cloudevent["time"]
    if cloudevent.get("subject") is not None:
        event["resources"] = [cloudevent["subject"]]
    return event


def _detail(cloudevent: dict[str, Any]) -> Any:
    content_type = cloudevent.get("datacontenttype")
    if content_type is not None and not _is_json(content_type):
        raise InvalidEvent("data", f"must be JSON, not {content_type}")
    if "data_base64" in cloudevent:
        raise InvalidEvent("data", "must be JSON, not binary (data_base64)")
    data = cloudevent.get("data", {})
    if not isinstance(data, dict):
        raise InvalidEvent("data", f"must be a JSON object, not {json_type(data)}")
    return data


def _is_json(content_type: Any) -> bool:
    return isinstance(content_type, str) and JSON_MEDIA_TYPE.fullmatch(content_type) is not None


def _decode_items(
    items: list[Any], route: Router, decoded: Decoded, slice_items: int
) -> Iterator[None]:
    for index, item in enumerate(items):
        if index and not index % slice_items:
            yield
        try:
            native = to_event(item)
            event = event_from_object(native)
            route(event)
            encoded = encode_json(native)
        except InvalidEvent as exc:
            decoded.rejected.append((index, str(exc)))
        except (TypeError, ValueError, RecursionError) as exc:
            decoded.rejected.append((index, f"cloudevent: cannot be encoded ({exc})"))
        else:
            decoded.accept(encoded, event)


def _json(body: bytes, what: str) -> Any:
    if not body.strip():
        raise MalformedBody(f"the body is empty; expected {what}")
    try:
        return _loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedBody(f"the body is not JSON ({exc}); expected {what}") from None


def _loads(body: bytes) -> Any:
    """Decode JSON; orjson turns integers past 64 bits into floats, so a body that may hold
    one is decoded by the stdlib, which keeps them exact (and the event rules refuse them)."""
    if has_long_digit_run(body):
        return json.loads(body, parse_constant=_refuse_constant)
    return orjson.loads(body)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
