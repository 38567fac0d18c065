"""Partner event source administration: create, describe, list, list accounts, delete.

Control-plane calls share a 50 requests/s quota per account and Region (docs/aws-contract.md,
PutPartnerEvents: quotas and delivery), so every call waits for the rate limiter, and
throttling or transient errors are retried here with full-jitter backoff; botocore's own
retries are off, as for PutPartnerEvents.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from publisher.aws.control_plane import call_with_retries
from publisher.core.event import is_valid_account, is_valid_source
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.errors import SourceAdminError

__all__ = ["PartnerSources", "SourceAdminError", "open_partner_sources"]
from publisher.settings import AwsSettings

DEFAULT_CONTROL_PLANE_RPS = 10.0
LIST_PAGE_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceAccount:
    """One customer account a source was offered to, with its state."""

    account: str
    state: str
    creation_time: datetime | None
    expiration_time: datetime | None


@dataclass(frozen=True, slots=True)
class CreateResult:
    arn: str
    created: bool


def validate_source_name(name: str) -> None:
    if not is_valid_source(name):
        raise ValueError(
            f"source name {name!r} must match aws.partner/<partner>/<namespace>/<name> "
            "(letters, digits, . - _; at most 256 characters)"
        )


def validate_account(account: str) -> None:
    if not is_valid_account(account):
        raise ValueError(f"account {account!r} must be 12 digits")


class PartnerSources:
    """The partner-side source calls over one aiobotocore `events` client."""

    def __init__(
        self, client: Any, limiter: AdaptiveRateLimiter, rng: random.Random | None = None
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._rng = rng or random.Random()

    async def create(self, name: str, account: str) -> CreateResult:
        """Create the source; an existing one is reported, not an error (idempotent)."""
        validate_source_name(name)
        validate_account(account)
        try:
            reply = await self._call(
                self._client.create_partner_event_source, Name=name, Account=account
            )
        except SourceAdminError as exc:
            if exc.code != "ResourceAlreadyExistsException":
                raise
            return CreateResult(await self.arn(name), created=False)
        return CreateResult(str(reply["EventSourceArn"]), created=True)

    async def describe(self, name: str) -> dict[str, str]:
        reply = await self._call(self._client.describe_partner_event_source, Name=name)
        return {"Name": str(reply.get("Name", name)), "Arn": str(reply.get("Arn", ""))}

    async def arn(self, name: str) -> str:
        return (await self.describe(name))["Arn"]

    async def list_by_prefix(self, prefix: str) -> list[dict[str, str]]:
        """Every source whose name starts with prefix, following NextToken (no paginator)."""
        found: list[dict[str, str]] = []
        async for page in self._pages(
            self._client.list_partner_event_sources, NamePrefix=prefix, Limit=LIST_PAGE_LIMIT
        ):
            found.extend(
                {"Name": str(s["Name"]), "Arn": str(s.get("Arn", ""))}
                for s in page.get("PartnerEventSources", [])
            )
        return found

    async def accounts(self, name: str) -> list[SourceAccount]:
        """The accounts the source was offered to and their states (PENDING/ACTIVE/DELETED)."""
        found: list[SourceAccount] = []
        async for page in self._pages(
            self._client.list_partner_event_source_accounts,
            EventSourceName=name,
            Limit=LIST_PAGE_LIMIT,
        ):
            found.extend(
                SourceAccount(
                    account=str(item["Account"]),
                    state=str(item.get("State", "UNKNOWN")),
                    creation_time=item.get("CreationTime"),
                    expiration_time=item.get("ExpirationTime"),
                )
                for item in page.get("PartnerEventSourceAccounts", [])
            )
        return found

    async def delete(self, name: str, account: str) -> None:
        validate_source_name(name)
        validate_account(account)
        await self._call(self._client.delete_partner_event_source, Name=name, Account=account)

    async def _pages(
        self, operation: Callable[..., Awaitable[dict[str, Any]]], **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = await self._call(operation, **params, **({"NextToken": token} if token else {}))
            yield page
            token = page.get("NextToken")
            if not token:
                return

    async def _call(
        self, operation: Callable[..., Awaitable[dict[str, Any]]], **params: Any
    ) -> dict[str, Any]:
        return await call_with_retries(
            operation, self._limiter, SourceAdminError, rng=self._rng, **params
        )


@asynccontextmanager
async def open_partner_sources(
    aws: AwsSettings, region: str | None = None, rps: float = DEFAULT_CONTROL_PLANE_RPS
) -> AsyncIterator[PartnerSources]:
    """PartnerSources over a fresh client for `region` (default aws.region)."""
    session = AioSession(profile=aws.profile)
    config = AioConfig(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
    async with session.create_client(
        "events",
        region_name=region or aws.region,
        endpoint_url=aws.endpoint_url,
        config=config,
    ) as client:
        yield PartnerSources(client, AdaptiveRateLimiter(rps))
