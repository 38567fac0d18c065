"""AWS JSON 1.1 wire format: response bodies, error bodies, request ids."""

from __future__ import annotations

import os
from typing import Any

import orjson
from aiohttp import web

CONTENT_TYPE = "application/x-amz-json-1.1"


class AwsError(Exception):
    """A whole-call AWS error: HTTP status and the `__type` code botocore makes a ClientError of."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def new_ids(count: int) -> list[str]:
    """Random version-4 UUID strings; one urandom call per batch is several times faster."""
    raw = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = raw[start : start + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return ids


def json_response(body: Any, request_id: str, status: int = 200) -> web.Response:
    """A JSON 1.1 response carrying the request id header botocore reads into ResponseMetadata."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id},
    )


def error_response(error: AwsError, request_id: str) -> web.Response:
    """The `{"__type", "message"}` body botocore's JSON parser maps to ClientError's code."""
    return json_response({"__type": error.code, "message": error.message}, request_id, error.status)
