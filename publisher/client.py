"""Clients for partner apps that post events to the daemon's ingest (`POST /v1/events`).

`Client` needs only the standard library; `AsyncClient` needs only aiohttp. Both take event
dicts and CloudEvent dicts (those with `specversion`), give every event an id before the
first attempt, pack them into bodies within `max_body_bytes`, and retry 429/5xx answers and
network errors with jittered backoff that waits at least the server's `Retry-After`. A retry
resends the same ids, so ingest stores each event once however often it is sent.

    with Client("http://127.0.0.1:8088", token=None) as client:
        result = client.publish([{"tenant": "acme", "detail_type": "OrderCreated",
                                  "detail": {"order_id": "ord-1001"}, "id": "ord-1001"}])
        print(result.accepted, result.duplicates, result.rejected)
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from publisher.client_batches import (
    Attempts,
    Batch,
    PublishError,
    PublishResult,
    Rejection,
    decode_answer,
    plan_batches,
)

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncClient", "Client", "PublishError", "PublishResult", "Rejection"]

EVENTS_PATH = "/v1/events"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Below ingest's default limit (8 MiB); a smaller server limit is met by halving on 413."""


class _Options:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float,
        max_body_bytes: int,
        max_attempts: int,
        base_delay_s: float,
        max_delay_s: float,
    ) -> None:
        self.url = base_url.rstrip("/") + EVENTS_PATH
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.token = token

    def headers(self, batch: Batch) -> dict[str, str]:
        headers = {"Content-Type": batch.content_type, "Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def attempts(self, batch: Batch, result: PublishResult) -> Attempts:
        return Attempts(batch, result, self.max_attempts, self.base_delay_s, self.max_delay_s)


class _Configured:
    """What both clients are constructed with."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 10.0,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_attempts: int = 10,
        base_delay_s: float = 0.1,
        max_delay_s: float = 10.0,
    ) -> None:
        self._options = _Options(
            base_url, token, timeout, max_body_bytes, max_attempts, base_delay_s, max_delay_s
        )


class Client(_Configured):
    """A synchronous ingest client over one keep-alive connection (standard library only)."""

    _conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def publish(self, events: Iterable[Mapping[str, Any]]) -> PublishResult:
        """Post the events; returns the accepted ids and the rejections. Raises PublishError
        on 401 or when a batch still fails after max_attempts (see PublishError.result)."""
        result = PublishResult()
        pending = plan_batches(events, self._options.max_body_bytes, result)
        while pending:
            pending[:0] = self._send(pending.pop(0), result)
        return result

    def _send(self, batch: Batch, result: PublishResult) -> list[Batch]:
        """Send one batch until it is settled; returns batches still to send (its halves)."""
        attempts = self._options.attempts(batch, result)
        for attempt in range(attempts.max_attempts):
            try:
                status, retry_after, answer = self._post(batch)
            except (OSError, http.client.HTTPException) as exc:
                self.close()  # the connection's state is unknown: start afresh
                attempts.failed(exc)
            else:
                if (rest := attempts.answered(status, retry_after, answer)) is not None:
                    return rest
            time.sleep(attempts.pause_s(attempt))
        raise attempts.gave_up()

    def _post(self, batch: Batch) -> tuple[int, str | None, Any]:
        if self._conn is None:
            self._conn = _connect(self._options.url, self._options.timeout)
        self._conn.request(
            "POST", urlsplit(self._options.url).path, batch.body(), self._options.headers(batch)
        )
        response = self._conn.getresponse()
        body = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, response.getheader("Retry-After"), decode_answer(body)


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.netloc, timeout=timeout)
    raise ValueError(f"base_url must be http:// or https://, not {url!r}")


class AsyncClient(_Configured):
    """The same client for asyncio, over one aiohttp session."""

    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def publish(self, events: Iterable[Mapping[str, Any]]) -> PublishResult:
        """As Client.publish."""
        result = PublishResult()
        pending = plan_batches(events, self._options.max_body_bytes, result)
        while pending:
            pending[:0] = await self._send(pending.pop(0), result)
        return result

    async def _send(self, batch: Batch, result: PublishResult) -> list[Batch]:
        # Imported here, not at the top: the sync Client must work with the standard library.
        import asyncio

        import aiohttp

        attempts = self._options.attempts(batch, result)
        for attempt in range(attempts.max_attempts):
            try:
                status, retry_after, answer = await self._post(batch)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                attempts.failed(exc)
            else:
                if (rest := attempts.answered(status, retry_after, answer)) is not None:
                    return rest
            await asyncio.sleep(attempts.pause_s(attempt))
        raise attempts.gave_up()

    async def _post(self, batch: Batch) -> tuple[int, str | None, Any]:
        import aiohttp

        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._options.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        async with self._session.post(
            self._options.url, data=batch.body(), headers=self._options.headers(batch)
        ) as response:
            body = await response.read()
            return response.status, response.headers.get("Retry-After"), decode_answer(body)
