"""The lean HTTP/1.1 client of the fast client's direct routes, against real servers: how it
frames replies, when it reuses a connection, how it fails, and that it sends what aiohttp sent."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import uvloop
from yarl import URL

from publisher.aws.fastclient import DirectPost, FastRegionClients, RequestSigner
from publisher.aws.lean_http import LeanPool, Route
from publisher.aws.putevents import CallFailed, PartnerEventsClient
from publisher.aws.replies import MAX_REPLY_BYTES
from publisher.commands.event_loop import run_on_loop
from publisher.emulator import EmulatorOptions, running_emulator
from publisher.settings import AwsSettings, PublishSettings
from tests.conftest import eventually
from tests.integration.http_servers import (
    OK_BODY,
    Action,
    app_server,
    http_reply,
    scripted_server,
)
from tests.integration.network_support import (
    ACCESS_KEY,
    SECRET_KEY,
    Certificates,
    isolate_aws_environment,
    make_certificates,
)

ENTRY = {"Source": "aws.partner/example.com/acme/orders", "DetailType": "T", "Detail": "{}"}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)


@asynccontextmanager
async def fast_client(url: str, aws: Any = None, **publish: Any) -> AsyncIterator[Any]:
    settings = AwsSettings(endpoint_url=url, **(aws or {}))
    async with FastRegionClients(settings, PublishSettings(**publish)) as clients:
        yield await clients.get("us-east-1")


async def outcome(client: PartnerEventsClient, count: int = 1) -> Any:
    try:
        return await client.put_partner_events([ENTRY] * count)
    except CallFailed as exc:
        return exc


def failure(result: Any) -> str | None:
    """The failed call's error code; None when the call did not fail."""
    return result.code if isinstance(result, CallFailed) else None


def accepted(result: Any) -> bool:
    return isinstance(result, list) and [r.event_id for r in result] == ["e-1"]


def request_bytes(url: str) -> bytes:
    host = URL(url).raw_authority
    return f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\n{{}}".encode()


def route(url: str) -> Route:
    parsed = URL(url)
    assert parsed.host is not None
    assert parsed.port is not None
    return Route(parsed.host, parsed.port, None)


# -- framing and reuse ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ok", "/chunked"])
async def test_replies_framed_by_length_or_chunks_keep_one_connection(path: str) -> None:
    async with app_server() as server, fast_client(server.url + path) as client:
        results = [await outcome(client) for _ in range(3)]
    assert all(accepted(r) for r in results), results
    assert (server.requests, server.connections) == (3, 1)


def chunked_with_extensions_and_trailers() -> bytes:
    pieces = [OK_BODY[start : start + 9] for start in range(0, len(OK_BODY), 9)]
    chunks = b"".join(b"%x;note=1\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + chunks + b"0\r\nX-Checksum: 1\r\n\r\n"


@pytest.mark.parametrize(
    ("reply", "connections"),
    [
        # Chunk extensions and trailers are read past; the connection is kept.
        pytest.param(chunked_with_extensions_and_trailers(), 1, id="chunked-trailers"),
        # An interim reply (100 Continue) is skipped; an HTTP/1.0 reply is not reused.
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\n" + http_reply(version="HTTP/1.0"),
            2,
            id="interim-http-1.0",
        ),
    ],
)
async def test_two_calls_read_each_reply_and_reuse_only_what_may_be(
    reply: bytes, connections: int
) -> None:
    async with (
        scripted_server(lambda _: Action(reply)) as server,
        fast_client(server.url) as client,
    ):
        results = [await outcome(client) for _ in range(2)]
    assert all(accepted(r) for r in results), results
    assert (len(server.requests), server.connections) == (2, connections)


async def test_connection_close_is_honoured() -> None:
    async with app_server() as server, fast_client(server.url + "/close") as client:
        results = [await outcome(client) for _ in range(2)]
    assert all(accepted(r) for r in results), results
    assert (server.requests, server.connections) == (2, 2)


async def test_an_idle_connection_past_its_keepalive_is_not_reused() -> None:
    async with scripted_server(lambda _: Action(http_reply())) as server:
        pool = LeanPool(4, 3, 10, keepalive_s=0)  # every idle connection already expired
        for _ in range(2):
            reply = await pool.post(route(server.url), request_bytes(server.url))
            assert (reply.status, reply.body) == (200, OK_BODY)
        await pool.close()
    assert (len(server.requests), server.connections) == (2, 2)


async def test_calls_beyond_the_limit_wait_for_a_connection() -> None:
    async with app_server() as server, fast_client(server.url + "/ok", max_in_flight=1) as client:
        results = await asyncio.gather(*(outcome(client) for _ in range(4)))
    assert all(accepted(r) for r in results), results
    assert (server.requests, server.connections) == (4, 1)


# -- a server that closes -------------------------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    # Keep-alive by every header, then closed by the server once the reply is out.
    async with scripted_server(lambda _: Action(http_reply(), close=True)) as server:
        pool = LeanPool(4, 3, 10)
        first = await pool.post(route(server.url), request_bytes(server.url))
        await server.wait_for(lambda: server.closed_by_server == 1)
        await eventually(lambda: pool.open_connections == 0, 5, "the pool to see the close")
        second = await pool.post(route(server.url), request_bytes(server.url))
        await pool.close()
    assert (first.status, second.status) == (200, 200)
    assert (len(server.requests), server.connections) == (2, 2)


async def test_a_close_crossing_a_request_on_a_reused_connection_sends_it_once_more() -> None:
    # The second request on a connection meets a close with no reply: what a server closing an
    # idle connection looks like when the request was already on its way. At least once: the
    # server saw it twice.
    script = {0: Action(http_reply()), 1: Action(close=True)}
    async with (
        scripted_server(lambda n: script[n]) as server,
        fast_client(server.url) as client,
    ):
        results = [await outcome(client) for _ in range(2)]
    assert all(accepted(r) for r in results), results
    assert (len(server.requests), server.connections) == (3, 2)


async def test_a_close_with_no_reply_on_a_new_connection_is_a_network_error() -> None:
    async with (
        scripted_server(lambda _: Action(close=True)) as server,
        fast_client(server.url) as client,
    ):
        failed = await outcome(client)
    assert failure(failed) == "NetworkError"
    assert "closed the connection after no reply" in failed.message
    assert len(server.requests) == 1  # not sent again: the connection was new


async def test_a_reply_cut_short_is_a_network_error_and_never_sent_again() -> None:
    half = http_reply()[:-10]
    script = {0: Action(http_reply()), 1: Action(half, close=True)}
    async with (
        scripted_server(lambda n: script[n]) as server,
        fast_client(server.url) as client,
    ):
        first, second = [await outcome(client) for _ in range(2)]
    assert accepted(first)
    assert failure(second) == "NetworkError"
    assert "part of a reply" in second.message
    assert len(server.requests) == 2  # part of a reply came back: the request was read


async def test_an_aiohttp_server_aborting_mid_body_is_a_network_error() -> None:
    async with app_server() as server, fast_client(server.url + "/cut") as client:
        failed = await outcome(client)
    assert failure(failed) == "NetworkError"
    assert server.requests == 1


async def test_a_reply_that_is_not_http_is_a_network_error() -> None:
    async with (
        scripted_server(lambda _: Action(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as server,
        fast_client(server.url) as client,
    ):
        failed = await outcome(client)
    assert failure(failed) == "NetworkError"
    assert "not an HTTP/1.x status line" in failed.message


# -- bounds and timeouts --------------------------------------------------------------------


async def test_an_oversized_body_is_malformed_and_its_connection_dropped() -> None:
    async with app_server() as server, fast_client(server.url + "/huge") as client:
        results = [await outcome(client) for _ in range(2)]
    for failed in results:
        assert failure(failed) == "MalformedResponse"
        assert f"over {MAX_REPLY_BYTES} bytes" in failed.message
        assert f"{MAX_REPLY_BYTES + 1} bytes" in failed.message  # read to the bound plus one
    assert (server.requests, server.connections) == (2, 2)


async def test_a_stalled_reply_times_out_within_the_request_timeout() -> None:
    async with (
        app_server() as server,
        fast_client(server.url + "/stall", request_timeout_s=0.3) as client,
    ):
        failed = await outcome(client)
    assert failure(failed) == "Timeout"
    assert "no complete reply" in failed.message
    assert server.requests == 1


async def test_a_stalled_tls_handshake_times_out_within_the_connect_timeout() -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    listening = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"https://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    try:
        async with fast_client(url, connect_timeout_s=0.3, request_timeout_s=30) as client:
            failed = await outcome(client)
    finally:
        release.set()
        listening.close()
    assert failure(failed) == "Timeout"
    assert "no connection to 127.0.0.1" in failed.message


async def test_an_error_reply_is_read_with_its_headers_in_any_case() -> None:
    async with app_server() as server, fast_client(server.url + "/error") as client:
        failed = await outcome(client)
    assert isinstance(failed, CallFailed)
    assert (failed.code, failed.http_status, failed.message) == (
        "ThrottlingException",
        400,
        "slow down",
    )


async def test_closing_the_clients_aborts_a_stuck_call_without_waiting_for_it() -> None:
    async with app_server() as server:
        async with fast_client(server.url + "/stall", request_timeout_s=60) as client:
            call = asyncio.create_task(outcome(client))
            await server.arrived.wait()
        # Out of the block: closing did not wait the 60 s for the reply.
        failed = await asyncio.wait_for(call, 5)
    assert failure(failed) == "NetworkError"


# -- TLS with a private CA ------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"), ["localhost"], ["127.0.0.1"])


@pytest.fixture
def server_tls(certificates: Certificates) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates.cert, certificates.key)
    return context


async def test_tls_with_a_private_ca_keeps_one_verified_connection(
    certificates: Certificates, server_tls: ssl.SSLContext
) -> None:
    async with (
        app_server(tls=server_tls) as server,
        fast_client(server.url + "/chunked", aws={"ca_bundle": certificates.ca}) as client,
    ):
        results = [await outcome(client) for _ in range(3)]
    assert all(accepted(r) for r in results), results
    assert (server.requests, server.connections) == (3, 1)


async def test_tls_without_the_private_ca_is_refused(server_tls: ssl.SSLContext) -> None:
    async with app_server(tls=server_tls) as server, fast_client(server.url + "/ok") as client:
        failed = await outcome(client)
    assert failure(failed) == "NetworkError"
    assert "certificate" in failed.message.lower()
    assert server.requests == 0


# -- the bytes sent, and the emulator --------------------------------------------------------


class _Frozen:
    access_key, secret_key, token = ACCESS_KEY, SECRET_KEY, "FwoGZXIvYXdzEBYaDk token"


async def test_the_direct_route_sends_the_bytes_aiohttp_sent() -> None:
    async with scripted_server(lambda _: Action(http_reply())) as server:
        signer = RequestSigner(server.url + "/gw/event%20bridge?z=1&a=2", "us-east-1")
        body = b'{"Entries":[{"Source":"s","DetailType":"T","Detail":"{}"}]}'
        headers = signer.headers(body, _Frozen())
        headers.update({"User-Agent": "partner-publisher/test", "Accept-Encoding": "identity"})
        pool = LeanPool(4, 3, 10)
        await DirectPost(pool, signer, None)(body, dict(headers))
        await pool.close()
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.post(URL(signer.url, encoded=True), data=body, headers=headers) as response,
        ):
            await response.read()
    lean, theirs = server.requests
    assert lean.startswith(b"POST /gw/event%20bridge?z=1&a=2 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"X-Amz-Security-Token: FwoGZXIvYXdzEBYaDk token\r\n" in lean
    assert lean == theirs


async def test_many_concurrent_calls_are_verified_and_accepted_by_the_emulator() -> None:
    options = EmulatorOptions(
        access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY, accept_unknown_sources=True
    )
    async with running_emulator(options) as emulator:
        async with fast_client(emulator.url, max_in_flight=3) as client:
            results = await asyncio.gather(*(outcome(client, 20) for _ in range(30)))
        assert all(isinstance(r, list) and all(e.event_id for e in r) for r in results)
        assert emulator.state.stats.requests == 30
        assert emulator.state.stats.calls["auth_error"] == 0
        assert len(emulator.state.events.delivered.records) == 600


# -- on uvloop, the daemon's loop --------------------------------------------------------------

Case = Callable[[Certificates, ssl.SSLContext], Coroutine[Any, Any, None]]
ON_UVLOOP: dict[str, Case] = {
    "length": lambda *_: test_replies_framed_by_length_or_chunks_keep_one_connection("/ok"),
    "chunked": lambda *_: test_replies_framed_by_length_or_chunks_keep_one_connection("/chunked"),
    "trailers": lambda *_: test_two_calls_read_each_reply_and_reuse_only_what_may_be(
        chunked_with_extensions_and_trailers(), 1
    ),
    "close": lambda *_: test_connection_close_is_honoured(),
    "limit": lambda *_: test_calls_beyond_the_limit_wait_for_a_connection(),
    "idle_close": lambda *_: test_a_connection_the_server_closed_while_idle_is_not_used_again(),
    "crossing": lambda *_: (
        test_a_close_crossing_a_request_on_a_reused_connection_sends_it_once_more()
    ),
    "cut": lambda *_: test_a_reply_cut_short_is_a_network_error_and_never_sent_again(),
    "huge": lambda *_: test_an_oversized_body_is_malformed_and_its_connection_dropped(),
    "stall": lambda *_: test_a_stalled_reply_times_out_within_the_request_timeout(),
    "handshake": lambda *_: test_a_stalled_tls_handshake_times_out_within_the_connect_timeout(),
    "shutdown": lambda *_: test_closing_the_clients_aborts_a_stuck_call_without_waiting_for_it(),
    "tls": test_tls_with_a_private_ca_keeps_one_verified_connection,
    "untrusted": lambda _, tls: test_tls_without_the_private_ca_is_refused(tls),
    "emulator": lambda *_: test_many_concurrent_calls_are_verified_and_accepted_by_the_emulator(),
}


@pytest.mark.parametrize("case", ON_UVLOOP)
def test_the_cases_hold_on_uvloop(
    case: str, certificates: Certificates, server_tls: ssl.SSLContext
) -> None:
    assert run_on_loop(_loop_kind(ON_UVLOOP[case](certificates, server_tls)), "uvloop") == (
        "uvloop"
    )


async def _loop_kind(case: Coroutine[Any, Any, None]) -> str:
    await case
    return "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"
