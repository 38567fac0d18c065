"""schemathesis hooks for the contract test: how to send an `application/x-ndjson` body.

The OpenAPI document describes an NDJSON body as the array of its lines' objects; this
serializer writes such an array one JSON object per line, as a client would.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    if isinstance(value, list):
        return b"".join(json.dumps(item).encode() + b"\n" for item in value)
    return json.dumps(value).encode()
