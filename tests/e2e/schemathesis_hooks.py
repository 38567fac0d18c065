"""schemathesis hooks for the contract test.

- How to send an `application/x-ndjson` body: the OpenAPI document describes it as the array
  of its lines' objects; the serializer writes such an array one JSON object per line.
- `invalid_items_are_rejected`: ingest judges each item of an array (or NDJSON line) on its
  own, so a body with one schema-violating item is answered 202 with that item in `rejected`.
  The built-in negative_data_rejection would count that 202 as acceptance, so the test lets
  it pass 202 for POST /v1/events, and this check applies the same rule (the built-in's own
  code, with its default statuses) to every answer except a 202 that rejected something.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.config._checks import NegativeDataRejectionConfig
from schemathesis.specs.openapi.checks import _openapi_negative_data_rejection


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    if isinstance(value, list):
        return b"".join(json.dumps(item).encode() + b"\n" for item in value)
    return json.dumps(value).encode()


class _DefaultStatuses:
    """The check context with negative_data_rejection's default expected statuses."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def config(self) -> Any:
        return _Config(self._ctx.config)


class _Config:
    def __init__(self, config: Any) -> None:
        self._config = config
        self.negative_data_rejection = NegativeDataRejectionConfig()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


@schemathesis.check
def invalid_items_are_rejected(ctx: Any, response: Any, case: Any) -> bool | None:
    if case.meta is None or not case.meta.generation.mode.is_negative:
        return None
    if response.status_code == 202:
        try:
            if json.loads(response.content).get("rejected"):
                return None  # the invalid item was reported, the others stored
        except (ValueError, AttributeError):
            pass
    return _openapi_negative_data_rejection(_DefaultStatuses(ctx), response, case)
