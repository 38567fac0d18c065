"""PutPartnerEvents over aiobotocore: one client per Region, SDK retries off, errors as data."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from publisher.aws.endpoints import events_endpoint
from publisher.aws.failures import CredentialsMissing
from publisher.aws.network import ca_bundle_for, proxies_for, tls_context
from publisher.aws.replies import CallFailed, EntryResult, no_answer, parse_results
from publisher.settings import AwsSettings, PublishSettings

if TYPE_CHECKING:  # aiobotocore's client stack: imported only when an SDK client is made
    from aiobotocore.config import AioConfig

__all__ = ["CallFailed", "EntryResult", "parse_results"]  # where the engine has always found them


class PartnerEventsClient(Protocol):
    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        """Send 1..20 entries; return one result per entry or raise CallFailed."""


class RegionClients(Protocol):
    async def get(self, region: str) -> PartnerEventsClient: ...


class SdkPartnerEventsClient:
    """PutPartnerEvents through an aiobotocore client whose own retries are off."""

    def __init__(self, client: Any) -> None:
        import aiohttp  # the SDK's HTTP client; imported with aiobotocore's stack anyway

        from publisher.aws.sdk_replies import entries_sent

        self._client = client
        self._entries_sent = entries_sent
        self._network_errors = (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError)

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        self._entries_sent.set(len(entries))  # read by check_reply, which runs inside this call
        try:
            response = await self._client.put_partner_events(Entries=list(entries))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CallFailed(
                str(error.get("Code") or "Unknown"),
                str(error.get("Message") or exc),
                _status(exc.response),
            ) from None
        except self._network_errors as exc:
            raise no_answer(exc) from None
        return parse_results(response, len(entries))


def _status(response: dict[str, Any]) -> int | None:
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


async def require_credentials(session: Any) -> Any:
    """The session's credentials, or a ConfigError that says how to provide them."""
    credentials = await session.get_credentials()
    if credentials is None:
        raise CredentialsMissing()
    return credentials


def sdk_config(publish: PublishSettings) -> AioConfig:
    from aiobotocore.config import AioConfig

    from publisher.aws.sdk_replies import BoundedHTTPSession

    return AioConfig(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=publish.max_in_flight,
        connect_timeout=publish.connect_timeout_s,
        read_timeout=publish.request_timeout_s,
        tcp_keepalive=True,
        # The model validates every entry more strictly than botocore's minimums; skipping
        # botocore's walk over the parameters saves CPU on the one hot call.
        parameter_validation=False,
        http_session_cls=BoundedHTTPSession,
    )


async def resolve_endpoint(session: Any, region: str, aws: AwsSettings) -> str:
    """botocore's endpoint decision (endpoint_url, AWS_ENDPOINT_URL*, FIPS, dual-stack,
    partitions), made from its rule set without building an SDK client (aws/endpoints.py)."""
    return events_endpoint(session, region, aws.endpoint_url)


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
        from aiobotocore.session import AioSession

        super().__init__()
        self._aws = aws
        self._config = sdk_config(publish)
        self._session = AioSession(profile=aws.profile)

    async def __aenter__(self) -> SdkRegionClients:
        await require_credentials(self._session)
        ca_bundle = ca_bundle_for(self._aws.ca_bundle, self._session)
        if ca_bundle is not None:  # aiobotocore would fail every call; this fails the start
            await asyncio.to_thread(tls_context, ca_bundle)
        return self

    async def _create(self, region: str) -> PartnerEventsClient:
        from aiobotocore.config import AioConfig

        from publisher.aws.sdk_replies import PARSE_EVENT, check_reply

        # The proxies are decided for the resolved endpoint by the rule the fast client uses.
        endpoint = await resolve_endpoint(self._session, region, self._aws)
        proxies = AioConfig(proxies=proxies_for(endpoint, self._aws.proxies))
        raw = await self._stack.enter_async_context(
            self._session.create_client(
                "events",
                region_name=region,
                endpoint_url=self._aws.endpoint_url,
                config=self._config.merge(proxies),
                verify=str(self._aws.ca_bundle) if self._aws.ca_bundle else None,
            )
        )
        raw.meta.events.register(PARSE_EVENT, check_reply)
        return SdkPartnerEventsClient(raw)
