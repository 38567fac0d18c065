"""Helpers for the emulator integration tests: SDK clients and raw HTTP against a live emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

SOURCE = "aws.partner/example.com/acme/orders"
ACCOUNT = "111122223333"  # the emulator's default customer account (access key `customer`)
PARTNER_ACCOUNT = "123456789012"  # the default partner account (access key `partner`)
CUSTOMER_KEY = "customer"
SIGV4_HEADER = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/events/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0000"
)


@asynccontextmanager
async def events_client(
    url: str,
    secret: str = "testing",
    key: str = "testing",
    region: str = "us-east-1",
    **config: Any,
) -> AsyncIterator[Any]:
    """A real aiobotocore EventBridge client with SDK retries off."""
    session = get_session()
    async with session.create_client(
        "events",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=AioConfig(retries={"total_max_attempts": 1}, **config),
    ) as client:
        yield client


def entry(**overrides: Any) -> dict[str, Any]:
    """A valid PutPartnerEvents entry, fields overridable (None removes one)."""
    base: dict[str, Any] = {
        "Source": SOURCE,
        "DetailType": "OrderCreated",
        "Detail": '{"order_id": "ord-1001", "amount": 12}',
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


async def raw_call(
    url: str, target: str, body: bytes | dict[str, Any], auth: str | None = SIGV4_HEADER
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST an AWS JSON 1.1 call without the SDK; returns (status, JSON body, headers)."""
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    if auth is not None:
        headers["Authorization"] = auth
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/", data=data, headers=headers) as response,
    ):
        return response.status, orjson.loads(await response.read()), dict(response.headers)


async def control(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call a /_emulator endpoint; returns (status, JSON body)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url + path, json=body) as response,
    ):
        return response.status, orjson.loads(await response.read())
