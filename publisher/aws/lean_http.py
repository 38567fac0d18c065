"""A lean HTTP/1.1 keep-alive client for the fast client's direct routes (no proxy).

aiohttp's client spends about 280,000 instructions more on one PutPartnerEvents call than this
one (its session, connector, request and response objects, multidicts): 9% of the daemon's
instructions per event. A call here is one write of bytes built by the caller and one reply
parsed as it arrives (http_reply.py), over a pool of keep-alive connections kept per host:

- at most `limit` connections open at once, all hosts together; an idle one is reused for
  KEEPALIVE_S at most;
- `connect_timeout_s` to get a connection (waiting for a free one, TCP and TLS), and
  `request_timeout_s` for the whole call: TimeoutError, as aiohttp's would be;
- a connection the server closed while it sat idle is never used again once the close is
  seen. When the close crosses the request (the server's close was on its way), the call is
  sent once more on a new connection, but only if not one byte of a reply had come back:
  the server may have read the first copy (at least once, as every retry in the daemon).

Errors are OSError (ConnectionError, ssl errors) or TimeoutError, which the caller maps to
NetworkError and Timeout. Routes through a proxy stay on aiohttp (proxied.py).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from typing import NamedTuple

import aiohappyeyeballs

from publisher.aws.http_reply import ClosedEarly, HttpConnection, Reply
from publisher.aws.replies import MAX_REPLY_BYTES

KEEPALIVE_S = 12.0
"""As aiobotocore: under the 20 s after which AWS closes an idle connection."""
CLOSE_WAIT_S = 1.0
"""How long closing the pool waits for idle connections to close politely before aborting."""
# As aiohttp's connector: try the next address if one has not answered in 250 ms.
HAPPY_EYEBALLS_DELAY_S = 0.25


class Route(NamedTuple):
    """Where a connection goes: host and port, over TLS when `tls` is set."""

    host: str
    port: int
    tls: ssl.SSLContext | None


class LeanPool:
    """Pooled keep-alive connections; `post` sends prebuilt request bytes and returns the reply."""

    def __init__(
        self,
        limit: int,
        connect_timeout_s: float,
        request_timeout_s: float,
        keepalive_s: float = KEEPALIVE_S,
        reply_limit: int = MAX_REPLY_BYTES,
    ) -> None:
        self._limit = limit
        self._connect_timeout_s = connect_timeout_s
        self._request_timeout_s = request_timeout_s
        self._keepalive_s = keepalive_s
        self._reply_limit = reply_limit
        self._idle: dict[Route, list[HttpConnection]] = {}
        self._routes: dict[HttpConnection, Route] = {}  # every connection not yet lost
        self._open = 0  # connections counted against the limit, including those connecting
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False
        self._all_lost: asyncio.Future[None] | None = None  # set once closing

    @property
    def open_connections(self) -> int:
        return self._open

    async def post(self, route: Route, request: bytes) -> Reply:
        """Send `request` (the whole HTTP/1.1 request) and read its reply, in request_timeout_s.

        The deadline is one timer on the reply's future rather than asyncio.timeout around
        the call: it costs half as much, and cancels nothing but the wait for the reply.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._request_timeout_s
        connection = self._reuse(route)
        reused = connection is not None
        if connection is None:
            connection, reused = await self._connect(route, deadline, reuse=True)
        while True:
            waiter: asyncio.Future[Reply] = loop.create_future()
            expiry = loop.call_at(deadline, self._expire, waiter, route)
            try:
                connection.send(request, waiter)
                reply = await waiter
            except ClosedEarly as exc:
                self._discard(connection)
                if not (reused and exc.before_reply):
                    raise
                # Once, on a new connection: the server's close crossed the request.
                connection, reused = await self._connect(route, deadline, reuse=False)
                continue
            except BaseException:
                self._discard(connection)
                raise
            finally:
                expiry.cancel()
            self._release(route, connection)
            return reply

    def _expire(self, waiter: asyncio.Future[Reply], route: Route) -> None:
        if not waiter.done():
            waiter.set_exception(
                TimeoutError(
                    f"no complete reply from {route.host}:{route.port} "
                    f"within {self._request_timeout_s} s"
                )
            )

    def _reuse(self, route: Route) -> HttpConnection | None:
        """The most recently used idle connection to `route` that is still good, if any."""
        idle = self._idle.get(route)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            if connection.usable() and now - connection.idle_since < self._keepalive_s:
                return connection
            self._discard(connection, polite=True)  # older ones are older: all expire in turn
        return None

    async def _connect(
        self, route: Route, deadline: float, reuse: bool
    ) -> tuple[HttpConnection, bool]:
        """A connection within connect_timeout_s (and before the call's deadline): a new one once
        the limit allows, or (`reuse`) an idle one released meanwhile; and whether it was reused."""
        connect_by = asyncio.get_running_loop().time() + self._connect_timeout_s
        timeout = asyncio.timeout_at(min(deadline, connect_by))
        try:
            async with timeout:
                while not (self._open < self._limit or self._evict_oldest_idle()):
                    await self._wait_for_release()
                    connection = self._reuse(route) if reuse else None
                    if connection is not None:
                        return connection, True
                if self._closed:
                    raise ConnectionError("the HTTP client is closed")
                self._open += 1
                try:
                    return await self._open_connection(route), False
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
        except TimeoutError:
            if not timeout.expired():
                raise
            if deadline < connect_by:
                raise TimeoutError(
                    f"no connection to {route.host}:{route.port} before the call's "
                    f"{self._request_timeout_s} s were over"
                ) from None
            raise TimeoutError(
                f"no connection to {route.host}:{route.port} within {self._connect_timeout_s} s"
            ) from None

    async def _wait_for_release(self) -> None:
        """Until a connection is released or dropped (or the pool closes)."""
        if self._closed:
            raise ConnectionError("the HTTP client is closed")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake()  # what it was woken for goes to the next in line
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def _open_connection(self, route: Route) -> HttpConnection:
        """Connect as aiohttp does: the addresses resolved, tried by happy eyeballs (on any loop:
        uvloop's create_connection has no such option), then TLS over the socket that answered."""
        loop = asyncio.get_running_loop()
        addresses = await loop.getaddrinfo(
            route.host, route.port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
        )
        if not addresses:
            raise OSError(f"no address for {route.host}")
        sock = await aiohappyeyeballs.start_connection(
            addresses, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S
        )
        try:
            _, connection = await loop.create_connection(
                lambda: HttpConnection(self._reply_limit, self._lost),
                sock=sock,
                ssl=route.tls,
                server_hostname=route.host if route.tls is not None else None,
            )
        except BaseException:
            sock.close()
            raise
        if not connection.lost:  # lost already: its send fails, and nothing is left to close
            self._routes[connection] = route
        return connection

    def _release(self, route: Route, connection: HttpConnection) -> None:
        if not connection.reusable or self._closed:
            self._discard(connection)
            return
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        idle = self._idle.get(route)
        if idle is None:
            self._idle[route] = [connection]
        else:
            idle.append(connection)
        if self._sweep is None:
            self._sweep = loop.call_later(self._keepalive_s, self._close_expired)
        if self._waiters:
            self._wake()

    def _discard(self, connection: HttpConnection, polite: bool = False) -> None:
        """Stop counting `connection` and close it: politely when idle (TLS close_notify), else
        at once (nothing it still holds is wanted)."""
        self._uncount(connection)
        if connection.lost or connection.transport is None:
            return
        if polite:
            connection.transport.close()
        else:
            connection.abort()

    def _lost(self, connection: HttpConnection) -> None:
        route = self._routes.pop(connection, None)
        if route is None:
            return  # never handed out: its failed connect was counted off where it failed
        idle = self._idle.get(route)
        if idle and connection in idle:
            idle.remove(connection)  # closed by the server while idle: never handed out again
        self._uncount(connection)
        if self._all_lost is not None and not self._routes and not self._all_lost.done():
            self._all_lost.set_result(None)

    def _uncount(self, connection: HttpConnection) -> None:
        """Take `connection` off the limit, once, and let a waiting call have its place."""
        if connection.counted:
            connection.counted = False
            self._open -= 1
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _evict_oldest_idle(self) -> bool:
        oldest: HttpConnection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        route = self._routes.get(oldest)
        if route is not None:
            self._idle[route].remove(oldest)
        self._discard(oldest, polite=True)
        return True

    def _close_expired(self) -> None:
        """Close the connections idle for keepalive_s; look again while any stay idle."""
        self._sweep = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for idle in self._idle.values():
            while idle and now - idle[0].idle_since >= self._keepalive_s:
                self._discard(idle.pop(0), polite=True)
        if any(self._idle.values()) and not self._closed:
            self._sweep = loop.call_later(self._keepalive_s, self._close_expired)

    async def close(self) -> None:
        """Close every connection: idle ones politely, busy ones at once; none may hold us up
        longer than CLOSE_WAIT_S."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        idle = {connection for connections in self._idle.values() for connection in connections}
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)  # each sees the pool closed
        if not self._routes:
            return
        self._all_lost = asyncio.get_running_loop().create_future()
        for connection in list(self._routes):
            self._discard(connection, polite=connection in idle)
        try:
            await asyncio.wait_for(asyncio.shield(self._all_lost), CLOSE_WAIT_S)
        except TimeoutError:
            for connection in list(self._routes):
                connection.abort()  # a peer that does not finish closing: not waited for
