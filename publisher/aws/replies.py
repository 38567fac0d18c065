"""What a PutPartnerEvents reply may be: how much of it is read, how it is decoded, when it counts.

Both clients (fast and SDK) judge a reply here, so they agree on what is a success. A 200 is a
success only when it is the documented object with exactly one result per entry sent, each
an EventId or an ErrorCode (docs/aws-contract.md, "PutPartnerEvents: response"); anything
else is a retryable `MalformedResponse` whose message carries the HTTP status and the first
bytes of the body.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

if TYPE_CHECKING:  # only proxied routes and the SDK client read aiohttp responses
    import aiohttp

MAX_REPLY_BYTES = 2 * 1024 * 1024
"""A reply is about 60 bytes per entry; a body over this is never AWS's and is not read on."""
BODY_HEAD_BYTES = 120
MALFORMED = "MalformedResponse"
# EntryResult(event_id) without its Python-level __new__: one fewer frame per event.
_new_result = tuple.__new__
# Content codings we can undo; a server may send one even though we ask for identity.
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class EntryResult(NamedTuple):
    """One entry's outcome, in request order: an EventId or an error code and message.

    A named tuple: one is built per event sent, and tuples build several times faster than
    frozen dataclasses.
    """

    event_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class CallFailed(Exception):
    """The whole call failed: nothing is known to have been accepted."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def no_answer(exc: BaseException) -> CallFailed:
    """A NetworkError for a call that got no usable answer. The request may have landed: a
    retry can duplicate (at-least-once)."""
    return CallFailed("NetworkError", f"{type(exc).__name__}: {exc}")


def malformed(reason: str, status: int | None, body: bytes) -> CallFailed:
    """A retryable MalformedResponse that says why, with the status and the body's first bytes."""
    head = body[:BODY_HEAD_BYTES].decode("utf-8", "replace")
    return CallFailed(MALFORMED, f"{reason} (HTTP {status}, {len(body)} bytes: {head!r})", status)


def parse_results(
    response: Any, sent: int, body: bytes = b"", status: int = 200
) -> list[EntryResult]:
    """One result per entry sent, in order, or raise MalformedResponse.

    `body` is the raw reply, quoted in the error; the SDK path passes botocore's parsed dict
    and no body (its raw body was checked before botocore parsed it).
    """
    if type(response) is not dict:
        raise malformed("the reply is not a JSON object", status, body)
    entries = response.get("Entries")
    if type(entries) is not list or len(entries) != sent:
        count = len(entries) if type(entries) is list else "no"
        raise malformed(f"{count} results for {sent} entries", status, body)
    results = []
    failures = 0
    for item in entries:
        # The usual result, checked inline: an object with an EventId and no ErrorCode.
        if type(item) is dict and item.get("ErrorCode") is None:
            event_id = item.get("EventId")
            if type(event_id) is str and event_id:
                results.append(_new_result(EntryResult, (event_id, None, None)))
                continue
        result = _entry_result(item)
        if result is None:
            reason = f"a result is neither an EventId nor an ErrorCode: {item!r:.80}"
            raise malformed(reason, status, body)
        failures += result.error_code is not None
        results.append(result)
    declared = response.get("FailedEntryCount", failures)
    if declared != failures:
        raise malformed(f"FailedEntryCount {declared!r} but {failures} failed", status, body)
    return results


def _entry_result(item: object) -> EntryResult | None:
    if type(item) is not dict:
        return None
    event_id = item.get("EventId")
    code = item.get("ErrorCode")
    if code is None:
        return EntryResult(event_id) if type(event_id) is str and event_id else None
    message = item.get("ErrorMessage")
    if event_id is not None or type(code) is not str or not code:
        return None
    if message is not None and type(message) is not str:
        return None
    return EntryResult(None, code, message)


def results_from_body(body: bytes, sent: int, content_encoding: str | None) -> list[EntryResult]:
    """The results of a 200 reply's raw body (read with `read_bounded`), or MalformedResponse."""
    plain = decoded_body(body, content_encoding, 200)
    try:
        data = orjson.loads(plain)
    except orjson.JSONDecodeError as exc:
        raise malformed(f"the reply is not JSON ({exc})", 200, body) from None
    return parse_results(data, sent, body)


def decoded_body(body: bytes, content_encoding: str | None, status: int) -> bytes:
    """The body with its content coding undone (gzip, deflate), at most MAX_REPLY_BYTES.

    Raises MalformedResponse for a body over the bound, a coding we cannot undo, or a corrupt
    one.
    """
    if len(body) > MAX_REPLY_BYTES:
        raise malformed(f"the reply is over {MAX_REPLY_BYTES} bytes", status, body)
    coding = (content_encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    wbits = _WBITS.get(coding)
    if wbits is None:
        raise malformed(f"unsupported Content-Encoding {coding!r}", status, body)
    inflater = zlib.decompressobj(wbits)
    try:
        plain = inflater.decompress(body, MAX_REPLY_BYTES + 1)
    except zlib.error as exc:
        raise malformed(f"corrupt {coding} body ({exc})", status, body) from None
    if len(plain) > MAX_REPLY_BYTES:  # a compression bomb stops here, not in memory
        raise malformed(f"the decoded reply is over {MAX_REPLY_BYTES} bytes", status, body)
    return plain


def error_from_response(status: int, headers: Any, body: bytes) -> CallFailed:
    """Map an AWS JSON 1.1 error answer (body already decoded) to CallFailed with the bare code."""
    code = ""
    message = ""
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {}
    if isinstance(data, dict):
        code = str(data.get("__type") or "")
        message = str(data.get("message") or data.get("Message") or "")
    code = code or str(headers.get("x-amzn-ErrorType") or "")
    # "com.amazonaws.events#ThrottlingException" or "ThrottlingException:http://..."
    code = code.rsplit("#", 1)[-1].split(":", 1)[0] or f"HTTP{status}"
    return CallFailed(code, message or body[:200].decode("utf-8", "replace"), status)


async def read_bounded(response: aiohttp.ClientResponse, limit: int = MAX_REPLY_BYTES) -> bytes:
    """The body, or its first limit + 1 bytes (and the connection closed) when it is longer."""
    length = response.content_length
    if length is not None and length <= limit:
        return await response.content.read()  # the usual case: bounded by Content-Length
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = await response.content.read(limit + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        response.close()  # do not drain the rest into a pooled connection
    return b"".join(chunks)
