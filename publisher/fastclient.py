"""PutPartnerEvents without the SDK's per-call machinery: one fixed call, signed and sent directly.

Credentials still come from aiobotocore's session (the whole default chain, refresh, IRSA), the
endpoint from botocore's resolver and the signature from botocore's SigV4 signer; what is left
out is request serialization, response parsing, hooks and retries that this one call does not
need. Errors map to the same CallFailed the SDK path raises, so retry decisions are the same.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Sequence
from contextlib import AsyncExitStack
from hashlib import sha256
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from aiobotocore.session import AioSession
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from publisher import __version__
from publisher.errors import ConfigError
from publisher.eventbridge import CallFailed, EntryResult, parse_results, sdk_config
from publisher.settings import AwsSettings, PublishSettings

TARGET = "AWSEvents.PutPartnerEvents"
CONTENT_TYPE = "application/x-amz-json-1.1"
SIGNING_NAME = "events"
USER_AGENT = f"partner-publisher/{__version__}"


class CachedKeySigV4Auth(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 with the signing key derived once per day, Region and secret."""

    _keys: dict[tuple[str, str, str], bytes] = {}

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        day = request.context["timestamp"][0:8]
        cache_key = (day, self._region_name, self.credentials.secret_key)
        key = self._keys.get(cache_key)
        if key is None:
            key = signing_key(self.credentials.secret_key, day, self._region_name)
            if len(self._keys) > 64:
                self._keys.clear()
            self._keys[cache_key] = key
        return hmac.new(key, string_to_sign.encode("utf-8"), sha256).hexdigest()


def signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, SIGNING_NAME, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), sha256).digest()
    return key


def signed_request(endpoint_url: str, region: str, body: bytes, credentials: Any) -> AWSRequest:
    """The PutPartnerEvents request for `body`, signed as the SDK signs it."""
    request = AWSRequest(
        method="POST",
        url=endpoint_url.rstrip("/") + "/",
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": CONTENT_TYPE},
    )
    CachedKeySigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
    return request


def error_from_response(status: int, headers: Any, body: bytes) -> CallFailed:
    """Map an AWS JSON 1.1 error answer to CallFailed with the bare error code."""
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


class FastPartnerEventsClient:
    """PutPartnerEvents for one Region over a shared aiohttp session."""

    def __init__(
        self, session: aiohttp.ClientSession, endpoint_url: str, region: str, credentials: Any
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._region = region
        self._credentials = credentials

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        body = orjson.dumps({"Entries": entries})
        frozen = await self._credentials.get_frozen_credentials()
        request = signed_request(self._endpoint_url, self._region, body, frozen)
        headers = dict(request.headers.items())
        headers["User-Agent"] = USER_AGENT
        try:
            async with self._session.post(request.url, data=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
                response_headers = response.headers
        except TimeoutError as exc:
            raise CallFailed("Timeout", f"no answer in time ({exc})") from None
        except (aiohttp.ClientError, OSError) as exc:
            # The request may have landed: a retry can duplicate (at-least-once).
            raise CallFailed("NetworkError", f"{type(exc).__name__}: {exc}") from None
        if status != 200:
            raise error_from_response(status, response_headers, payload)
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise CallFailed("MalformedResponse", "the answer is not JSON", status) from None
        return parse_results(data, len(entries))


class FastRegionClients:
    """Fast clients per Region sharing one connection pool; endpoints resolved by botocore."""

    def __init__(self, aws: AwsSettings, publish: PublishSettings) -> None:
        self._aws = aws
        self._publish = publish
        self._session = AioSession(profile=aws.profile)
        self._stack = AsyncExitStack()
        self._clients: dict[str, FastPartnerEventsClient] = {}
        self._lock = asyncio.Lock()
        self._credentials: Any = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FastRegionClients:
        self._credentials = await self._session.get_credentials()
        if self._credentials is None:
            raise ConfigError(
                "no AWS credentials found in the default chain (environment, profile, web "
                "identity, instance role); for the local emulator set "
                "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
            )
        connector = aiohttp.TCPConnector(
            limit=self._publish.max_in_flight, keepalive_timeout=30, enable_cleanup_closed=True
        )
        timeout = aiohttp.ClientTimeout(
            total=self._publish.request_timeout_s, connect=self._publish.connect_timeout_s
        )
        self._http = await self._stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def get(self, region: str) -> FastPartnerEventsClient:
        client = self._clients.get(region)
        if client is not None:
            return client
        async with self._lock:
            if region not in self._clients:
                assert self._http is not None, "use FastRegionClients as a context manager"
                endpoint = await self._resolve_endpoint(region)
                self._clients[region] = FastPartnerEventsClient(
                    self._http, endpoint, region, self._credentials
                )
            return self._clients[region]

    async def _resolve_endpoint(self, region: str) -> str:
        """Ask botocore's resolver (FIPS, dual-stack, partitions) and keep only the URL."""
        async with self._session.create_client(
            "events",
            region_name=region,
            endpoint_url=self._aws.endpoint_url,
            config=sdk_config(self._publish),
        ) as client:
            return str(client.meta.endpoint_url)
