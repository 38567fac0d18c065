"""One connection of the lean HTTP/1.1 client (lean_http.py): it sends a request, reads the reply.

An asyncio.Protocol rather than a StreamReader: a reply usually arrives in one read and is
parsed there, with no task switch per line. It reads what PutPartnerEvents replies need
(replies.py): the status, the headers, and a body framed by Content-Length, chunked, or the
end of the connection, never more than `limit` + 1 bytes of it (the rest is not read: the
connection is dropped). A connection is offered again only after a reply read to its end that
did not ask to close it, with nothing unsolicited after it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import NamedTuple, cast

MAX_HEAD_BYTES = 64 * 1024
"""A status line and headers longer than this are not a reply worth waiting for."""
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class Headers:
    """A reply's headers, looked up by name in any case (the first of repeated ones)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields  # keys in lower case

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


class Reply(NamedTuple):
    status: int
    headers: Headers
    body: bytes
    """The whole body, or its first limit + 1 bytes when it is longer."""


class BadReply(ConnectionError):
    """What came back is not HTTP/1.x; the connection is dropped."""


class ClosedEarly(ConnectionError):
    """The connection ended before the reply did."""

    def __init__(self, message: str, before_reply: bool) -> None:
        super().__init__(message)
        self.before_reply = before_reply
        """Not one byte of the reply had arrived: the server may have closed it while idle."""


class HttpConnection(asyncio.Protocol):
    """A client connection: one request at a time, its reply parsed as it arrives."""

    def __init__(self, limit: int, on_lost: Callable[[HttpConnection], None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.reusable = False
        """Set once a reply was read to its end on a connection that may carry another."""
        self.lost = False
        self.idle_since = 0.0
        self.counted = True  # still counted against the pool's limit
        self._limit = limit
        self._on_lost = on_lost
        self._waiter: asyncio.Future[Reply] | None = None
        self._received = False
        self._buffer = bytearray()
        self._step: Callable[[bytearray], bool] = self._head
        self._status = 0
        self._headers = Headers({})
        self._keep_alive = False
        self._left = 0  # body bytes (or chunk bytes) still expected
        self._body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport subclass on every loop (uvloop's is not).
        self.transport = cast(asyncio.Transport, transport)

    def send(self, request: bytes, waiter: asyncio.Future[Reply]) -> None:
        """Write the whole request at once; `waiter` gets the reply or the reason there is none."""
        assert self.transport is not None
        self.reusable = False
        self._waiter = waiter
        self._received = False
        self._step = self._head
        if not self.usable():  # lost before its first request: nothing would be written
            waiter.set_exception(ClosedEarly("the connection closed before the request", True))
            return
        self.transport.write(request)

    def usable(self) -> bool:
        """Whether another request may go out on it: not closed, not closing."""
        transport = self.transport
        return not self.lost and transport is not None and not transport.is_closing()

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.abort()  # bytes nobody asked for: the connection's framing is lost
            return
        self._received = True
        self._buffer += data
        try:
            self._advance()
        except BadReply as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        return False  # close: a half-closed connection carries no further reply

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._step == self._to_eof and exc is None:  # the body ends with the connection
                self._finish(bytes(self._body), keep_alive=False)
            else:
                why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
                said = "part of a reply" if self._received else "no reply"
                message = f"the server closed the connection after {said}{why}"
                waiter.set_exception(ClosedEarly(message, not self._received))
        self._on_lost(self)

    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def _finish(self, body: bytes, keep_alive: bool) -> None:
        waiter = self._waiter
        assert waiter is not None
        self._body = bytearray()
        if not waiter.done():
            waiter.set_result(Reply(self._status, self._headers, body))
        if keep_alive and not self._buffer and not self.lost:
            self.reusable = True
        elif not self.lost:
            self.abort()

    # The parser: `_step` is the current state, a method that consumes what it can from the
    # buffer and says whether another step can run on what is left.

    def _advance(self) -> None:
        buffer = self._buffer
        while self._step(buffer):
            pass

    def _head(self, buffer: bytearray) -> bool:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise BadReply(f"no end of the reply's headers in {MAX_HEAD_BYTES} bytes")
            return False
        lines = buffer[:end].decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        version, status = _status_line(lines[0])
        fields = _header_fields(lines)
        if 100 <= status < 200:
            return True  # an interim reply (100 Continue): the real one follows
        self._status = status
        self._headers = Headers(fields)
        keep_alive = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
        self._frame_body(fields, status, keep_alive)
        return True

    def _frame_body(self, fields: dict[str, str], status: int, keep_alive: bool) -> None:
        """How the body ends (RFC 9112, section 6.3)."""
        coding = fields.get("transfer-encoding")
        length = fields.get("content-length")
        self._keep_alive = keep_alive
        if coding is not None:
            if coding.lower().rsplit(",", 1)[-1].strip() == "chunked":
                self._step = self._chunk_head
                self._keep_alive = keep_alive and length is None
            else:
                self._step = self._to_eof  # framed by the end of the connection alone
        elif length is not None:
            if not (length.isascii() and length.isdigit()):
                raise BadReply(f"a Content-Length that is not a number: {length[:40]!r}")
            size = int(length)
            self._step = self._sized
            self._left = min(size, self._limit + 1)
            self._keep_alive = keep_alive and size <= self._limit
        elif status in (204, 304):
            self._step = self._sized
            self._left = 0
        else:
            self._step = self._to_eof

    def _sized(self, buffer: bytearray) -> bool:
        if len(buffer) < self._left:
            return False
        body = bytes(buffer[: self._left])
        del buffer[: self._left]
        self._finish(body, self._keep_alive)
        return False

    def _to_eof(self, buffer: bytearray) -> bool:
        self._body += buffer
        del buffer[:]
        if len(self._body) > self._limit:
            self._finish(bytes(self._body[: self._limit + 1]), keep_alive=False)
        return False

    def _chunk_head(self, buffer: bytearray) -> bool:
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > 1024:
                raise BadReply("a chunk size line over 1024 bytes")
            return False
        size = bytes(buffer[:end]).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size):
            raise BadReply(f"not a chunk size: {size[:40]!r}")
        del buffer[: end + 2]
        self._left = int(size, 16)
        self._step = self._chunk_data if self._left else self._trailers
        return True

    def _chunk_data(self, buffer: bytearray) -> bool:
        if not buffer:
            return False
        take = min(self._left, len(buffer))
        self._body += buffer[:take]
        del buffer[:take]
        self._left -= take
        if len(self._body) > self._limit:
            self._finish(bytes(self._body[: self._limit + 1]), keep_alive=False)
            return False
        if not self._left:
            self._step = self._chunk_end
        return True

    def _chunk_end(self, buffer: bytearray) -> bool:
        if len(buffer) < 2:
            return False
        if buffer[:2] != b"\r\n":
            raise BadReply("a chunk not followed by CRLF")
        del buffer[:2]
        self._step = self._chunk_head
        return True

    def _trailers(self, buffer: bytearray) -> bool:
        """None, or header lines (not read), then an empty line: the end of the body."""
        if buffer[:2] == b"\r\n":
            del buffer[:2]
        else:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise BadReply(f"no end of the reply's trailers in {MAX_HEAD_BYTES} bytes")
                return False
            del buffer[: end + 4]
        self._finish(bytes(self._body), self._keep_alive)
        return False


def _status_line(line: str) -> tuple[str, int]:
    version, _, rest = line.partition(" ")
    code = rest[:3]
    if not (version.startswith("HTTP/1.") and code.isascii() and code.isdigit()) or (
        len(code) != 3 or rest[3:4] not in ("", " ")
    ):
        raise BadReply(f"not an HTTP/1.x status line: {line[:80]!r}")
    return version, int(code)


def _header_fields(lines: list[str]) -> dict[str, str]:
    """The header lines after the status line, by lower-case name (the first of repeated ones)."""
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadReply(f"not a header line: {line[:80]!r}")
        name = name.lower()
        value = value.strip()
        if name == "content-length" and fields.get(name, value) != value:
            raise BadReply("two different Content-Length headers")
        fields.setdefault(name, value)
    return fields
