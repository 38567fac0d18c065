"""aiohttp over a context whose CA store was deferred: verified against the store at first use."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from publisher.aws.aiohttp_trust import deferred_default_trust
from tests.integration.network_support import Certificates, make_certificates


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@asynccontextmanager
async def tls_server(certificates: Certificates) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificates.cert, certificates.key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://localhost:{port}/"
    finally:
        await runner.cleanup()


def deferred_context() -> ssl.SSLContext:
    with deferred_default_trust():
        return ssl.create_default_context()


async def get(url: str, context: ssl.SSLContext) -> str:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as response:
        return await response.text()


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path, ["localhost"], ["127.0.0.1"])


async def test_the_system_store_read_at_the_first_handshake_is_trusted(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = deferred_context()
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))  # read at the handshake
    async with tls_server(certificates) as url:
        assert await get(url, context) == "ok"


async def test_a_certificate_outside_the_store_is_refused(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = deferred_context()
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.cert.with_name("none.pem")))
    async with tls_server(certificates) as url:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await get(url, context)
