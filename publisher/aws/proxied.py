"""The fast client's routes through a proxy: PutPartnerEvents over aiohttp (HTTP proxies and
CONNECT tunnels), imported only when a Region's route has a proxy.

A route reached directly goes over the lean client (lean_http.py): `send` then never imports
aiohttp's client, a sixth of a one-event `send`'s start-up. (The daemon imports it anyway,
with aiohttp's web server.)
"""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from yarl import URL

from publisher.aws.lean_http import KEEPALIVE_S
from publisher.aws.replies import no_answer, read_bounded
from publisher.settings import PublishSettings


class ProxiedPost:
    """POST over aiohttp through a proxy (HTTP, or CONNECT for HTTPS)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        proxy: str,
        tls: ssl.SSLContext | bool,
    ) -> None:
        self._session = session
        # encoded=True: sent exactly as signed, as aiobotocore sends it (no re-quoting).
        self._url = URL(url, encoded=True)
        self._proxy = proxy
        self._tls = tls

    async def __call__(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, proxy=self._proxy, ssl=self._tls
            ) as response:
                payload = await read_bounded(response)
        except TimeoutError:
            raise  # aiohttp's timeouts are TimeoutErrors too: the caller's "Timeout"
        except aiohttp.ClientError as exc:
            raise no_answer(exc) from None
        return response.status, response.headers, payload


async def open_session(stack: AsyncExitStack, publish: PublishSettings) -> aiohttp.ClientSession:
    """An aiohttp session for the proxied routes, closed with `stack`."""
    connector = aiohttp.TCPConnector(
        limit=publish.max_in_flight, keepalive_timeout=KEEPALIVE_S, enable_cleanup_closed=True
    )
    timeout = aiohttp.ClientTimeout(
        total=publish.request_timeout_s, connect=publish.connect_timeout_s
    )
    return await stack.enter_async_context(
        aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
    )
