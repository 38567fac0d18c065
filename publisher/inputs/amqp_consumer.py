"""The consuming side of the AMQP input: one connection with one channel, read by a frame
parser of its own.

aio-pika and aiormq read each frame with three awaited reads, pass it through two queues and
a task, and decode every method, content header and body into objects: a delivery is three
frames, and that machinery cost more CPU than the rest of the daemon together. Here every
chunk the socket gives is cut into frames at once; a delivery's method and content header
are read with `struct` for the few fields the input uses, and the deliveries of one chunk
reach the input in one call (one wake-up); while the input lingers for more deliveries the
socket is left unread (read_later), so what trickles in meanwhile is one chunk, not one per
burst the broker sends. Everything else (the handshake, closes from the broker) goes through
pamqp, which also writes every frame sent.

Publishing, declaring and counting stay on aio-pika (amqp_link): they are not per delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import pamqp.frame
from pamqp import commands
from pamqp.base import Frame
from pamqp.common import FieldTable
from pamqp.constants import FRAME_END, FRAME_HEARTBEAT
from pamqp.decode import field_table
from pamqp.header import ProtocolHeader
from pamqp.heartbeat import Heartbeat

from publisher.inputs.amqp_target import Target

CHANNEL = 1
_METHOD, _HEADER, _BODY = 1, 2, 3
_DELIVER = (60 << 16) | 60  # basic.deliver: class 60, method 60
_FRAME_HEAD = struct.Struct(">BHI")
_U16, _U32, _U64 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")
_TAG_AND_BIT = struct.Struct(">QB")
# Content header property flags, in wire order, before `timestamp` (the last one read).
_SHORT_STRINGS_BEFORE_HEADERS = (0x8000, 0x4000)  # content_type, content_encoding
_OCTETS = (0x1000, 0x0800)  # delivery_mode, priority
_SHORT_STRINGS_BEFORE_TIMESTAMP = (0x0400, 0x0200, 0x0100, 0x0080)
_HEADERS, _TIMESTAMP, _MORE_FLAGS = 0x2000, 0x0040, 0x0001
_NO_HEADERS: Mapping[str, Any] = {}
HEARTBEAT_GRACE = 3
"""Heartbeat intervals without a frame from the broker before the connection counts as dead."""
CLOSE_WAIT_S = 1.0


@dataclass(slots=True)
class Delivery:
    """One message delivered to this consumer, as the input uses it."""

    delivery_tag: int
    body: bytes
    redelivered: bool
    headers: Mapping[str, Any]
    timestamp: float | None
    """The publisher's `timestamp` property (whole seconds since the epoch), if set."""


class ConsumerError(ConnectionError):
    """The broker refused a step, closed the connection or channel, or broke the protocol."""


OnDeliveries = Callable[[list[Delivery]], None]
OnLost = Callable[[BaseException | None], None]


class AmqpConsumer(asyncio.Protocol):
    """Consumes one queue with manual acks; `on_deliveries` gets each chunk's deliveries,
    `on_lost` is called once when the connection ends (None: closed by us)."""

    def __init__(self, on_deliveries: OnDeliveries, on_lost: OnLost) -> None:
        self._on_deliveries = on_deliveries
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._replies: asyncio.Queue[Frame | BaseException] = asyncio.Queue()
        self._streaming = False
        self._closed = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_read = 0.0
        # The delivery whose body is being read: tag, redelivered, size, headers, timestamp.
        self._open: tuple[int, bool, int, Mapping[str, Any], float | None] | None = None
        self._parts: list[bytes] = []
        self._got = 0

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def open(self, url: str, queue: str, prefetch: int, timeout_s: float) -> None:
        """Connect, open the channel, set the prefetch and start consuming `queue`."""
        target = Target.of(url)
        loop = asyncio.get_running_loop()
        context = await asyncio.to_thread(target.tls_context)  # reads certificate files
        connecting = loop.create_connection(lambda: self, target.host, target.port, ssl=context)
        await asyncio.wait_for(connecting, timeout_s)
        try:
            await asyncio.wait_for(self._handshake(target, queue, prefetch), timeout_s)
        except BaseException:
            self.abort()
            raise

    def ack(self, tag: int, *, multiple: bool = False) -> None:
        self._send(commands.Basic.Ack(tag, multiple))

    def nack(self, tag: int) -> None:
        """Give back at once (requeue)."""
        self._send(commands.Basic.Nack(tag, requeue=True))

    def reject(self, tag: int) -> None:
        """Refuse for good: the queue's dead-letter exchange, if any, gets it."""
        self._send(commands.Basic.Reject(tag, requeue=False))

    async def read_later(self, seconds: float) -> None:
        """Leave the socket unread for `seconds`, then read what came meanwhile: deliveries
        trickling in arrive a few at a time, and every read is a wake-up of the loop and a
        system call, so what a linger waits for is read in one go at its end."""
        transport = self._transport
        if transport is None or transport.is_closing():
            await asyncio.sleep(seconds)
            return
        transport.pause_reading()
        try:
            await asyncio.sleep(seconds)
        finally:
            transport.resume_reading()
        # The loop polls the socket on its next pass, after this task's step: data_received
        # has run once the task has been through two passes.
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def flushed(self) -> None:
        """Return once the transport takes more writes (its buffer is under its high mark)."""
        if self.closed:
            raise ConsumerError("the AMQP consumer connection is closed")
        await self._writable.wait()

    async def close(self) -> None:
        """Close politely (the broker requeues what was not acked), then drop the socket."""
        if self.closed or self._transport is None:
            return
        with contextlib.suppress(ConsumerError):
            self._send(commands.Connection.Close(200, "closing", 0, 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), CLOSE_WAIT_S)
        self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport subclass on every loop (uvloop's is not).
        self._transport = cast(asyncio.Transport, transport)
        self._last_read = asyncio.get_running_loop().time()
        self._transport.write(ProtocolHeader().marshal())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._writable.set()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._replies.put_nowait(exc or ConsumerError("the broker closed the connection"))
        self._on_lost(exc)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        self._last_read = asyncio.get_running_loop().time()
        size, position = len(buffer), 0
        done: list[Delivery] = []
        head, u32 = _FRAME_HEAD.unpack_from, _U32.unpack_from
        while size - position >= 8:
            kind, _, length = head(buffer, position)
            start, end = position + 7, position + 7 + length
            if end >= size:
                break
            if buffer[end] != FRAME_END:
                self._broken("a frame without its end marker")
                return
            if kind == _BODY:
                self._body(bytes(buffer[start:end]), done)
            elif kind == _METHOD and u32(buffer, start)[0] == _DELIVER:
                tag_at = start + 5 + buffer[start + 4]  # after the consumer tag
                tag, bits = _TAG_AND_BIT.unpack_from(buffer, tag_at)
                self._open = (tag, bool(bits & 1), 0, _NO_HEADERS, None)
            elif kind == _HEADER and self._open is not None:
                self._header(buffer, start, done)
            elif kind != FRAME_HEARTBEAT:
                self._method(bytes(buffer[position : end + 1]))
            position = end + 1
        del buffer[:position]
        if done:
            self._on_deliveries(done)

    # -- frames --------------------------------------------------------------------------

    def _header(self, buffer: bytearray, start: int, done: list[Delivery]) -> None:
        assert self._open is not None
        size = _U64.unpack_from(buffer, start + 4)[0]
        flags = _U16.unpack_from(buffer, start + 12)[0]
        headers, stamp = self._properties(buffer, start + 14, flags)
        tag, redelivered = self._open[0], self._open[1]
        self._open = (tag, redelivered, size, headers, stamp)
        self._parts, self._got = [], 0
        if size == 0:
            self._body(b"", done)

    @staticmethod
    def _properties(
        buffer: bytearray, at: int, flags: int
    ) -> tuple[Mapping[str, Any], float | None]:
        """The headers table and timestamp of a content header's properties."""
        if flags & _MORE_FLAGS:  # a second flags word: no broker sends one; let pamqp read it
            raise ConsumerError("content header property flags continue (unsupported)")
        headers = _NO_HEADERS
        for bit in _SHORT_STRINGS_BEFORE_HEADERS:
            if flags & bit:
                at += 1 + buffer[at]
        if flags & _HEADERS:
            headers, at = _table(buffer, at)
        if not flags & _TIMESTAMP:
            return headers, None
        for bit in _OCTETS:
            if flags & bit:
                at += 1
        for bit in _SHORT_STRINGS_BEFORE_TIMESTAMP:
            if flags & bit:
                at += 1 + buffer[at]
        return headers, float(_U64.unpack_from(buffer, at)[0])

    def _body(self, part: bytes, done: list[Delivery]) -> None:
        if self._open is None:
            self._broken("a content body without a delivery")
            return
        tag, redelivered, size, headers, stamp = self._open
        self._got += len(part)
        if self._got < size:
            self._parts.append(part)
            return
        if self._parts:
            self._parts.append(part)
            part = b"".join(self._parts)
            self._parts = []
        self._open = None
        done.append(Delivery(tag, part, redelivered, headers, stamp))

    def _method(self, raw: bytes) -> None:
        try:
            frame = pamqp.frame.unmarshal(raw)[2]
        except Exception as exc:  # pamqp raises its own errors and struct's
            self._broken(f"an unreadable frame ({exc!r})")
            return
        if isinstance(frame, commands.Connection.Close):
            with contextlib.suppress(ConsumerError):
                self._send(commands.Connection.CloseOk(), channel=0)
            self._fail(f"the broker closed the connection: {frame.reply_code} {frame.reply_text}")
        elif isinstance(frame, commands.Connection.CloseOk):
            self.abort()
        elif isinstance(frame, commands.Channel.Close):
            self._fail(f"the broker closed the channel: {frame.reply_code} {frame.reply_text}")
        elif isinstance(frame, commands.Basic.Cancel):
            self._fail("the broker cancelled the consumer (the queue was deleted?)")
        elif not self._streaming and isinstance(frame, Frame):
            self._replies.put_nowait(frame)
        # Others (connection.blocked, basic.qos-ok late, ...) change nothing for a consumer.

    def _fail(self, reason: str) -> None:
        self._replies.put_nowait(ConsumerError(reason))
        self.abort()

    def _broken(self, what: str) -> None:
        self._fail(f"protocol error: {what}")

    def _send(self, method: Frame, channel: int = CHANNEL) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConsumerError("the AMQP consumer connection is closed")
        self._transport.write(pamqp.frame.marshal(method, channel))

    # -- handshake -----------------------------------------------------------------------

    async def _reply(self, expected: type[Frame]) -> Any:
        reply = await self._replies.get()
        if isinstance(reply, BaseException):
            raise reply
        if not isinstance(reply, expected):
            raise ConsumerError(f"expected {expected.__name__}, the broker sent {reply!r}")
        return reply

    async def _handshake(self, target: Target, queue: str, prefetch: int) -> None:
        await self._reply(commands.Connection.Start)
        login = f"\0{target.user}\0{target.password}"
        properties: FieldTable = {
            "product": "partner-publisher",
            "capabilities": {"consumer_cancel_notify": True},
        }
        self._send(commands.Connection.StartOk(properties, "PLAIN", login, "en_US"), channel=0)
        tune = await self._reply(commands.Connection.Tune)
        heartbeat_s = _heartbeat(tune.heartbeat, target.heartbeat_s)
        tuned = commands.Connection.TuneOk(tune.channel_max, tune.frame_max, heartbeat_s)
        self._send(tuned, channel=0)
        self._send(commands.Connection.Open(target.vhost), channel=0)
        await self._reply(commands.Connection.OpenOk)
        self._send(commands.Channel.Open())
        await self._reply(commands.Channel.OpenOk)
        self._send(commands.Basic.Qos(prefetch_count=prefetch))
        await self._reply(commands.Basic.QosOk)
        self._send(commands.Basic.Consume(queue=queue))
        await self._reply(commands.Basic.ConsumeOk)  # deliveries may follow in the same read
        self._streaming = True
        if heartbeat_s:
            self._heartbeat = asyncio.create_task(self._beat(heartbeat_s), name="amqp-heartbeat")

    async def _beat(self, interval_s: float) -> None:
        """Send a heartbeat twice per interval; give up on a broker silent for too long."""
        loop, beat = asyncio.get_running_loop(), Heartbeat.marshal()
        while self._transport is not None and not self._transport.is_closing():
            await asyncio.sleep(interval_s / 2)
            if loop.time() - self._last_read > interval_s * HEARTBEAT_GRACE:
                self._fail(f"no frame from the broker in {interval_s * HEARTBEAT_GRACE:.0f} s")
                return
            self._transport.write(beat)


def _table(buffer: bytearray, at: int) -> tuple[Mapping[str, Any], int]:
    """The field table at `at` and the offset after it."""
    length = _U32.unpack_from(buffer, at)[0]
    if not length:  # publishers often send an empty table
        return _NO_HEADERS, at + 4
    return field_table(bytes(buffer[at : at + 4 + length]))[1], at + 4 + length


def _heartbeat(broker_s: int, ours_s: int) -> int:
    """The interval both sides accept: the smaller one, 0 (none) only if both say 0."""
    if broker_s == 0 or ours_s == 0:
        return max(broker_s, ours_s)
    return min(broker_s, ours_s)
