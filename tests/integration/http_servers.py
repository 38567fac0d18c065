"""Servers for the lean HTTP client's tests: one that answers each request with the bytes a
script gives (any framing, any misbehaviour), and an aiohttp application with a route per way
of answering. Both count the connections and requests they saw."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

OK_BODY = b'{"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]}'


def http_reply(
    body: bytes = OK_BODY, status: str = "200 OK", headers: str = "", version: str = "HTTP/1.1"
) -> bytes:
    """A whole reply framed by Content-Length."""
    head = f"{version} {status}\r\nContent-Type: application/x-amz-json-1.1\r\n{headers}"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@dataclass
class Action:
    """What the scripted server does with one request: write `reply`, then maybe close."""

    reply: bytes = b""
    close: bool = False
    hold: asyncio.Event | None = None
    """Wait for this before writing (a stalled server), or until the client goes away."""


@dataclass
class ScriptedServer:
    url: str = ""
    requests: list[bytes] = field(default_factory=list)
    """Every request received, head and body, as sent."""
    connections: int = 0
    closed_by_server: int = 0
    """Connections the server closed itself, counted once the close is done."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever a request arrives or a connection is closed by the server."""

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_for(self, what: Callable[[], bool], timeout_s: float = 10) -> None:
        async with asyncio.timeout(timeout_s):
            while not what():
                await self.changed.wait()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return head + await reader.readexactly(length)


@asynccontextmanager
async def scripted_server(
    script: Callable[[int], Action], tls: ssl.SSLContext | None = None
) -> AsyncIterator[ScriptedServer]:
    """A server calling `script(n)` for the n-th request (from 0) on each connection."""
    server = ScriptedServer()
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        server.connections += 1
        try:
            for number in range(1_000):
                request = await _read_request(reader)
                if request is None:
                    return
                server.requests.append(request)
                server.notify()
                action = script(number)
                if action.hold is not None:
                    await action.hold.wait()
                writer.write(action.reply)
                await writer.drain()
                if action.close:
                    writer.close()
                    await writer.wait_closed()
                    server.closed_by_server += 1
                    server.notify()
                    return
        except ConnectionError:
            return
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    scheme = "https" if tls is not None else "http"
    server.url = f"{scheme}://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    try:
        yield server
    finally:
        listening.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class AppServer:
    """aiohttp answering POST /ok, /chunked, /close, /cut, /stall, /huge, /error."""

    url: str = ""
    transports: list[object] = field(default_factory=list)
    requests: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the test ends: a stalled answer waits for it."""

    @property
    def connections(self) -> int:
        return len(self.transports)

    def app(self) -> web.Application:
        app = web.Application()
        for name in ("ok", "chunked", "close", "cut", "stall", "huge", "error"):
            app.router.add_post(f"/{name}", getattr(self, name))
        return app

    async def seen(self, request: web.Request) -> None:
        await request.read()
        self.requests += 1
        if not any(t is request.transport for t in self.transports):
            self.transports.append(request.transport)
        self.arrived.set()

    async def ok(self, request: web.Request) -> web.Response:
        await self.seen(request)
        return web.Response(body=OK_BODY)

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        await self.seen(request)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(OK_BODY), 7):  # several chunks, each its own write
            await response.write(OK_BODY[start : start + 7])
        await response.write_eof()
        return response

    async def close(self, request: web.Request) -> web.Response:
        await self.seen(request)
        response = web.Response(body=OK_BODY)
        response.force_close()  # says Connection: close
        return response

    async def cut(self, request: web.Request) -> web.StreamResponse:
        await self.seen(request)
        response = web.StreamResponse(headers={"Content-Length": str(len(OK_BODY))})
        await response.prepare(request)
        await response.write(OK_BODY[:10])
        await response.drain()
        assert request.transport is not None
        request.transport.abort()  # in the middle of the body
        return response

    async def stall(self, request: web.Request) -> web.Response:
        await self.seen(request)
        await self.release.wait()
        return web.Response(body=OK_BODY)

    async def huge(self, request: web.Request) -> web.Response:
        await self.seen(request)
        return web.Response(body=b" " * (3 << 20))  # 3 MiB, with its Content-Length

    async def error(self, request: web.Request) -> web.Response:
        await self.seen(request)
        body = b'{"message": "slow down"}'
        headers = {"X-Amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"}
        return web.Response(status=400, body=body, headers=headers)


@asynccontextmanager
async def app_server(tls: ssl.SSLContext | None = None) -> AsyncIterator[AppServer]:
    server = AppServer()
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    scheme = "https" if tls is not None else "http"
    server.url = f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()
