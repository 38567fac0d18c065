"""The SDK client's guard: botocore's parser sees only replies it can parse, read within a bound.

aiobotocore reads a whole reply into memory and botocore's JSON parser raises AttributeError
or UnicodeDecodeError on a 200 that is not an object or a gzip body it did not ask for. A
`before-parse` handler judges the raw reply with the same rules as the fast client first, and
the HTTP session reads at most MAX_REPLY_BYTES + 1 bytes of any reply.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import aiohttp
from aiobotocore.httpsession import AIOHTTPSession

from publisher.aws.replies import (
    decoded_body,
    error_from_response,
    read_bounded,
    results_from_body,
)

PARSE_EVENT = "before-parse.events.PutPartnerEvents"
entries_sent: ContextVar[int] = ContextVar("entries_sent")
"""Set by the SDK client before each call: the hook runs inside botocore, in the same task."""


def check_reply(response_dict: dict[str, Any], **_: Any) -> None:
    """Undo a content coding, then refuse a 200 that is not one result per entry sent."""
    status = int(response_dict["status_code"])
    headers = response_dict["headers"]
    body = decoded_body(response_dict["body"], headers.get("content-encoding"), status)
    response_dict["body"] = body
    if status == 200:
        results_from_body(body, entries_sent.get(), None)
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # botocore's error parser would raise on it
        raise error_from_response(status, headers, body) from None


class BoundedResponse(aiohttp.ClientResponse):
    """A response whose read() stops after MAX_REPLY_BYTES + 1 bytes."""

    async def read(self) -> bytes:
        return await read_bounded(self)


class BoundedHTTPSession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session with BoundedResponse for every reply."""

    async def _get_session(self, proxy_url: str | None) -> aiohttp.ClientSession:
        session: aiohttp.ClientSession = await super()._get_session(proxy_url)
        session._response_class = BoundedResponse  # aiohttp's response_class, set after the fact
        return session
