"""PutPartnerEvents over aiobotocore: one client per Region, SDK retries off, errors as data."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, NamedTuple, Protocol

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError

from publisher.aws.failures import CredentialsMissing
from publisher.settings import AwsSettings, PublishSettings


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


class PartnerEventsClient(Protocol):
    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        """Send 1..20 entries; return one result per entry or raise CallFailed."""


class RegionClients(Protocol):
    async def get(self, region: str) -> PartnerEventsClient: ...


def parse_results(response: dict[str, Any], sent: int) -> list[EntryResult]:
    """Map the response Entries to results; a count mismatch means we cannot trust any."""
    entries = response.get("Entries") or []
    if not entries and response.get("FailedEntryCount") == 0:
        # Some stand-ins (moto) answer success without per-entry results.
        return [EntryResult() for _ in range(sent)]
    if len(entries) != sent:
        raise CallFailed(
            "MalformedResponse",
            f"{len(entries)} results for {sent} entries",
            response_status(response),
        )
    return [
        EntryResult(
            event_id=item.get("EventId"),
            error_code=item.get("ErrorCode"),
            error_message=item.get("ErrorMessage"),
        )
        for item in entries
    ]


def response_status(response: dict[str, Any]) -> int | None:
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


class SdkPartnerEventsClient:
    """PutPartnerEvents through an aiobotocore client whose own retries are off."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        try:
            response = await self._client.put_partner_events(Entries=list(entries))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CallFailed(
                str(error.get("Code") or "Unknown"),
                str(error.get("Message") or exc),
                response_status(exc.response),
            ) from None
        except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as exc:
            # The request may have landed: a retry can duplicate (at-least-once).
            raise CallFailed("NetworkError", f"{type(exc).__name__}: {exc}") from None
        return parse_results(response, len(entries))


async def require_credentials(session: AioSession) -> Any:
    """The session's credentials, or a ConfigError that says how to provide them."""
    credentials = await session.get_credentials()
    if credentials is None:
        raise CredentialsMissing()
    return credentials


def sdk_config(publish: PublishSettings) -> AioConfig:
    return AioConfig(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=publish.max_in_flight,
        connect_timeout=publish.connect_timeout_s,
        read_timeout=publish.request_timeout_s,
        tcp_keepalive=True,
        # The model validates every entry more strictly than botocore's minimums; skipping
        # botocore's walk over the parameters saves CPU on the one hot call.
        parameter_validation=False,
    )


class RegionClientPool:
    """One client per Region, created on first use under a lock, closed together on exit."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self._clients: dict[str, PartnerEventsClient] = {}
        self._lock = asyncio.Lock()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def get(self, region: str) -> PartnerEventsClient:
        client = self._clients.get(region)
        if client is None:
            async with self._lock:
                if region not in self._clients:
                    self._clients[region] = await self._create(region)
                client = self._clients[region]
        return client

    async def _create(self, region: str) -> PartnerEventsClient:
        raise NotImplementedError


class SdkRegionClients(RegionClientPool):
    """One aiobotocore `events` client per Region."""

    def __init__(self, aws: AwsSettings, publish: PublishSettings) -> None:
        super().__init__()
        self._aws = aws
        self._config = sdk_config(publish)
        self._session = AioSession(profile=aws.profile)

    async def __aenter__(self) -> SdkRegionClients:
        await require_credentials(self._session)
        return self

    async def _create(self, region: str) -> PartnerEventsClient:
        raw = await self._stack.enter_async_context(
            self._session.create_client(
                "events",
                region_name=region,
                endpoint_url=self._aws.endpoint_url,
                config=self._config,
            )
        )
        return SdkPartnerEventsClient(raw)
