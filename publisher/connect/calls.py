"""One call path for the customer-side clients: rate limit, our own retries, clear errors.

botocore's retries are off (as everywhere in this project) so there is one retry layer:
throttling, 5xx and network errors are retried with full-jitter backoff; anything else
raises ConnectError at once with AWS's code and message.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from publisher.aws.control_plane import Backoff, call_with_retries
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.errors import PublisherError

BACKOFF = Backoff(max_attempts=5, base_delay_s=0.1, max_delay_s=3.0)
DEFAULT_RPS = 10.0
SERVICE_NAMES = {"events": "events", "appintegrations": "appintegrations",
                 "profiles": "customer-profiles"}  # fmt: skip


class ConnectError(PublisherError):
    """A customer-side AWS call failed; `code` is AWS's error code."""

    def __init__(self, code: str, message: str, operation: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.operation = operation


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """Where and as whom to call: Region, profile, endpoint (the emulator's URL in tests)."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None


class Caller:
    """Calls operations of one client through the shared limiter and retry loop."""

    def __init__(
        self, client: Any, limiter: AdaptiveRateLimiter, rng: random.Random | None = None
    ) -> None:
        self.client = client
        self._limiter = limiter
        self._rng = rng or random.Random()

    async def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        method: Callable[..., Awaitable[dict[str, Any]]] = getattr(self.client, operation)

        def fail(code: str, message: str) -> ConnectError:
            return ConnectError(code, message, operation)

        return await call_with_retries(
            method, self._limiter, fail, backoff=BACKOFF, rng=self._rng, **params
        )


class Clients:
    """Lazily opened callers for `events`, `appintegrations` and `profiles`."""

    def __init__(self, target: AwsTarget, stack: AsyncExitStack, rps: float = DEFAULT_RPS) -> None:
        self._target = target
        self._stack = stack
        self._session = AioSession(profile=target.profile)
        self._limiter = AdaptiveRateLimiter(rps)
        self._callers: dict[str, Caller] = {}

    async def get(self, name: str) -> Caller:
        if name not in self._callers:
            config = AioConfig(
                retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30
            )
            client = await self._stack.enter_async_context(
                self._session.create_client(
                    SERVICE_NAMES[name],
                    region_name=self._target.region,
                    endpoint_url=self._target.endpoint_url,
                    config=config,
                )
            )
            self._callers[name] = Caller(client, self._limiter)
        return self._callers[name]

    async def events(self) -> Caller:
        return await self.get("events")

    async def appintegrations(self) -> Caller:
        return await self.get("appintegrations")

    async def profiles(self) -> Caller:
        return await self.get("profiles")


@asynccontextmanager
async def open_clients(target: AwsTarget, rps: float = DEFAULT_RPS) -> AsyncIterator[Clients]:
    """Clients for the block; every client opened is closed on exit."""
    async with AsyncExitStack() as stack:
        yield Clients(target, stack, rps)
