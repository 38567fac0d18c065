"""AWS rest-json for the emulated AppIntegrations and Customer Profiles: routing, bodies, errors.

Requests are routed by the SigV4 credential scope's service (`app-integrations` or `profile`),
then by method and raw path (segments are unquoted after matching, so a name holding an encoded
`/` stays one segment). Errors carry the code in the `x-amzn-ErrorType` header and
`{"Message": ...}` in the body, which is what botocore's RestJSONParser reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from publisher.emulator.protocol import AwsError, new_ids

if TYPE_CHECKING:
    from publisher.emulator.state import EmulatorState

CONTENT_TYPE = "application/json"
# The HTTP status each modelled error code carries (botocore's service models).
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "BadRequestException": 400,
    "DuplicateResourceException": 409,
    "InternalServerException": 500,
    "InternalServiceError": 500,
    "InvalidRequestException": 400,
    "ResourceNotFoundException": 404,
    "ResourceQuotaExceededException": 429,
    "ThrottlingException": 429,
}


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One decoded rest-json call: path parameters, query string, JSON body, caller's account."""

    params: dict[str, str]
    query: Mapping[str, str]
    body: dict[str, Any]
    account: str


RestHandler = Callable[["EmulatorState", RestRequest], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: its name, method and path template compiled to a regex."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    handler: RestHandler


def route(operation: str, method: str, template: str, handler: RestHandler) -> Route:
    """A Route from a botocore-style requestUri such as `/eventIntegrations/{Name}`."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(operation, method, re.compile(f"^{regex}$"), handler)


@dataclass(slots=True)
class RestFaults:
    """Error codes queued per operation, returned by the next calls (a test hook)."""

    queued: dict[str, list[str]] = field(default_factory=dict)

    def add(self, operation: str, codes: list[str]) -> None:
        self.queued.setdefault(operation, []).extend(codes)

    def take(self, operation: str) -> str | None:
        codes = self.queued.get(operation)
        return codes.pop(0) if codes else None

    def clear(self) -> None:
        self.queued.clear()


def error(code: str, message: str) -> AwsError:
    """An AwsError with the status the service model gives `code`."""
    return AwsError(code, message, ERROR_STATUS.get(code, 400))


def match(routes: list[Route], method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route for this method and path, with its unquoted parameters."""
    path = raw_path.split("?", 1)[0]
    for candidate in routes:
        found = candidate.pattern.match(path)
        if found and candidate.method == method:
            return candidate, {k: unquote(v) for k, v in found.groupdict().items()}
    raise AwsError("UnknownOperationException", f"No operation for {method} {path}", 404)


def decode_body(raw: bytes, code: str) -> dict[str, Any]:
    """The JSON object body (empty when there is none); anything else is `code` (400)."""
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise error(code, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise error(code, "The request body must be a JSON object.")
    return body


def response(body: dict[str, Any], request_id: str) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id},
    )


def error_response(failure: AwsError, request_id: str) -> web.Response:
    return web.Response(
        body=orjson.dumps({"Message": failure.message}),
        status=failure.status,
        headers={
            "Content-Type": CONTENT_TYPE,
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": failure.code,
        },
    )


def new_request_id() -> str:
    return new_ids(1)[0]


def check_string(
    body: Mapping[str, Any],
    key: str,
    errors: list[str],
    *,
    pattern: str | None = None,
    min_len: int = 1,
    max_len: int = 255,
    required: bool = True,
) -> str | None:
    """Check one string member, appending a readable problem to `errors`."""
    value = body.get(key)
    if value is None:
        if required:
            errors.append(f"{key} is required")
        return None
    if not isinstance(value, str):
        errors.append(f"{key} must be a string")
        return None
    if not min_len <= len(value) <= max_len:
        errors.append(f"{key} must be {min_len} to {max_len} characters")
    elif pattern is not None and re.fullmatch(pattern, value) is None:
        errors.append(f"{key} must match {pattern}")
    return value


TAG_KEY_PATTERN = r"(?!aws:)[a-zA-Z+-=._:/]+"


def check_tags(body: Mapping[str, Any], errors: list[str], max_tags: int) -> dict[str, str]:
    """Tags: a string map of at most `max_tags`, keys 1..128 not `aws:`, values <= 256."""
    tags = body.get("Tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not 1 <= len(tags) <= max_tags:
        # botocore's TagMap has min 1: an empty map is refused, not read as "no tags".
        errors.append(f"Tags must be a map of 1 to {max_tags} entries (omit it for none)")
        return {}
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or re.fullmatch(TAG_KEY_PATTERN, key) is None:
            errors.append(f"tag key {key!r} must be 1 to 128 characters and not start with aws:")
        if not isinstance(value, str) or len(value) > 256:
            errors.append(f"tag {key!r} must have a string value of at most 256 characters")
    return dict(tags)


def raise_if_any(errors: list[str], code: str) -> None:
    if errors:
        raise error(code, "; ".join(errors))


def page(
    names: list[str], query: Mapping[str, str], token_key: str, size_key: str, maximum: int
) -> tuple[list[str], str | None, str | None]:
    """(names on this page, next token, problem) for sorted `names` and the query's paging."""
    raw_size = query.get(size_key, str(maximum))
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= maximum:
        return [], None, f"{size_key} must be between 1 and {maximum}"
    start = 0
    token = query.get(token_key)
    if token is not None:
        if not token.startswith("after:"):
            return [], None, f"{token_key} is not valid"
        start = next((i for i, n in enumerate(names) if n > token[6:]), len(names))
    end = start + int(raw_size)
    chosen = names[start:end]
    return chosen, (f"after:{chosen[-1]}" if end < len(names) else None), None


@dataclass(frozen=True, slots=True)
class Paging:
    """How a service pages its lists: the query's token and size keys, the largest page, and
    the error code for a bad paging query."""

    token_key: str
    size_key: str
    maximum: int
    error_code: str


def paged(
    items_key: str,
    names: list[str],
    item_for: Callable[[str], Any],
    query: Mapping[str, str],
    paging: Paging,
) -> dict[str, Any]:
    """One page of a list answer, `{items_key: [...], "NextToken": ...}`, for sorted `names`."""
    chosen, token, problem = page(names, query, paging.token_key, paging.size_key, paging.maximum)
    raise_if_any([problem] if problem else [], paging.error_code)
    result: dict[str, Any] = {items_key: [item_for(name) for name in chosen]}
    if token:
        result["NextToken"] = token
    return result
