"""The lean client's connection: a body that ends with the connection, and a connection lost
before its request."""

from __future__ import annotations

import asyncio

import pytest

from publisher.aws.http_reply import ClosedEarly, HttpConnection, Reply

HEAD_WITHOUT_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n\r\n"


class Transport(asyncio.Transport):
    """Records writes; closing is what the test says."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True


def connection() -> tuple[HttpConnection, Transport, list[HttpConnection]]:
    lost: list[HttpConnection] = []
    conn = HttpConnection(1 << 20, lost.append)
    transport = Transport()
    conn.connection_made(transport)
    return conn, transport, lost


async def test_a_body_framed_by_the_close_is_the_reply_when_the_close_is_clean() -> None:
    conn, _, lost = connection()
    waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    conn.send(b"POST / HTTP/1.1\r\n\r\n", waiter)
    conn.data_received(HEAD_WITHOUT_LENGTH + b'{"FailedEntryCount":0')
    conn.data_received(b',"Entries":[]}')
    conn.connection_lost(None)
    reply = waiter.result()
    assert (reply.status, reply.body) == (200, b'{"FailedEntryCount":0,"Entries":[]}')
    assert lost == [conn]
    assert not conn.reusable


async def test_a_body_framed_by_the_close_cut_by_a_reset_is_no_reply() -> None:
    conn, _, lost = connection()
    waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    conn.send(b"POST / HTTP/1.1\r\n\r\n", waiter)
    conn.data_received(HEAD_WITHOUT_LENGTH + b'{"FailedEntryCount":0')
    conn.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(ClosedEarly, match="after part of a reply") as raised:
        waiter.result()
    assert raised.value.before_reply is False
    assert lost == [conn]


async def test_a_connection_lost_before_its_request_writes_nothing_and_says_so() -> None:
    conn, transport, _ = connection()
    conn.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    conn.send(b"POST / HTTP/1.1\r\n\r\n", waiter)
    assert transport.written == []
    with pytest.raises(ClosedEarly) as raised:
        waiter.result()
    assert raised.value.before_reply is True
