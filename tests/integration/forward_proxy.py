"""A small HTTP forward proxy for the network tests, run as its own process.

`python tests/integration/forward_proxy.py --log FILE [--map NAME=IP ...]` prints
"proxy listening on PORT", then serves: absolute-form requests (`POST http://host:port/path`)
are forwarded one per connection (`Connection: close` both ways), `CONNECT host:port` opens a
tunnel. Each request is appended to FILE as a JSON line (method, target, headers) before it
is forwarded. `--map` resolves a name only this proxy knows, so a client that reaches such a
host can only have come through the proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization"}


class Proxy:
    def __init__(self, log: TextIO, hosts: dict[str, str]) -> None:
        self._log = log
        self._hosts = hosts

    def _record(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        line = {"method": method, "target": target, "headers": dict(headers)}
        self._log.write(json.dumps(line) + "\n")
        self._log.flush()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        method, target, _ = request_line.split(" ", 2)
        headers = [tuple(part.strip() for part in h.split(":", 1)) for h in header_lines]
        pairs = [(name, value) for name, value in headers]
        self._record(method, target, pairs)
        try:
            if method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, pairs, reader, writer)
        except OSError:
            with contextlib.suppress(OSError):
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self._hosts.get(host, host), port)

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await self._open(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        body = await reader.readexactly(length)
        up_reader, up_writer = await self._open(url.hostname or "", url.port or 80)
        path = url.path + (f"?{url.query}" if url.query else "")
        kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        lines = [f"{method} {path or '/'} HTTP/1.1", *(f"{k}: {v}" for k, v in kept)]
        up_writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1"))
        up_writer.write(body)
        await up_writer.drain()
        await _copy(up_reader, writer)  # the origin closes after its reply
        up_writer.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until the source ends, then close the sink so the other side sees the end too."""
    with contextlib.suppress(OSError):
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    sink.close()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))


async def main(log_path: Path, hosts: dict[str, str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with log_path.open("a", encoding="utf-8") as log:
        server = await asyncio.start_server(Proxy(log, hosts).handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"proxy listening on {port}\n")
        sys.stdout.flush()
        async with server:
            await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--map", action="append", default=[], metavar="NAME=IP")
    args = parser.parse_args()
    asyncio.run(main(args.log, dict(item.split("=", 1) for item in args.map)))
