"""What the network behaviour suite runs against: a throwaway CA, a forward proxy process, the
engine driven in-process over real HTTP, and a server whose every 200 is broken."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from publisher.core.source_states import SourceStates
from publisher.core.tenants import tenants_for
from publisher.engine.assemble import open_pipeline
from publisher.inputs.lines import LineFeed
from publisher.observe.metrics import Metrics
from publisher.settings import Settings

SOURCE = "aws.partner/example.com/acme/orders"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
HIDDEN_HOST = "events.emulator.test"
"""A name only the test proxy resolves: a call that reaches it went through the proxy."""
PROXY_SCRIPT = Path(__file__).with_name("forward_proxy.py")


# -- a throwaway certificate authority ------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path, names: list[str], ips: list[str]) -> Certificates:
    """A CA made by openssl for this test only, and a server certificate it signed."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
        "-subj", "/CN=partner-publisher test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}")
    alt = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{ip}" for ip in ips)])
    extensions = directory / "server.ext"
    extensions.write_text(
        f"subjectAltName={alt}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", extensions,
    )  # fmt: skip
    return Certificates(ca, cert, key)


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)


# -- the forward proxy process --------------------------------------------------------------


@dataclass(frozen=True)
class RunningProxy:
    url: str
    log: Path

    def requests(self) -> list[dict[str, Any]]:
        """Every request the proxy received so far (logged before it was forwarded)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@contextmanager
def forward_proxy(directory: Path, hosts: dict[str, str]) -> Iterator[RunningProxy]:
    log = directory / "proxy.jsonl"
    maps = [arg for name, ip in hosts.items() for arg in ("--map", f"{name}={ip}")]
    process = subprocess.Popen(
        [sys.executable, str(PROXY_SCRIPT), "--log", str(log), *maps],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("proxy listening on "), line
        yield RunningProxy(f"http://127.0.0.1:{int(line.split()[-1])}", log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


# -- the engine, in this process, over real HTTP -------------------------------------------


@dataclass
class Run:
    published: int
    dead_lettered: int
    metrics: Metrics
    dead_letters: list[dict[str, Any]]

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def engine_settings(
    tmp_path: Path, kind: str, endpoint: str, max_attempts: int = 2, **aws: Any
) -> Settings:
    return Settings.model_validate(
        {
            "aws": {"endpoint_url": endpoint, **aws},
            "publish": {"client": kind, "linger_ms": 5, "request_timeout_s": 5},
            "retry": {"max_attempts": max_attempts, "base_delay_ms": 5, "max_delay_ms": 20},
            "sources": {"refresh": False},
            "dead_letter": {"path": str(tmp_path / f"dead-letters-{kind}.jsonl")},
            "tenants": {"acme": {"account": "111122223333", "source": SOURCE}},
        }
    )


def numbered_events(count: int) -> bytes:
    return b"".join(
        orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": {"n": n}}) + b"\n"
        for n in range(count)
    )


async def publish(settings: Settings, count: int, timeout_s: float = 60) -> Run:
    """Publish `count` numbered events through the whole engine until each is settled."""
    feed = LineFeed(io.BufferedReader(io.BytesIO(numbered_events(count))))
    metrics = Metrics()
    settled = [0, 0]

    def on_settled(published: int, dead: int) -> None:
        settled[0] += published
        settled[1] += dead

    stop = asyncio.Event()
    tenants = tenants_for(settings)
    async with open_pipeline(
        settings, feed, metrics, tenants, SourceStates(), on_settled=on_settled
    ) as pipeline:
        running = asyncio.create_task(pipeline.run(stop, 5.0), name="test-pipeline")
        finished = asyncio.create_task(feed.finished.wait(), name="test-all-settled")
        try:
            await asyncio.wait_for(
                asyncio.wait([finished, running], return_when="FIRST_COMPLETED"), timeout_s
            )
        finally:
            stop.set()
            finished.cancel()
            await running  # raises if the pipeline died
    path = settings.dead_letter.path
    letters = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return Run(settled[0], settled[1], metrics, letters)


def delivered_numbers(emulator: Any) -> list[int]:
    return sorted(record["detail"]["n"] for record in emulator.state.events.delivered.records)


# -- a server whose every 200 is broken ----------------------------------------------------

BROKEN_REPLIES: dict[str, bytes] = {
    "array": b"[]",
    "null": b"null",
    "entries_of_numbers": b'{"Entries":[1]}',
    "no_entries": b'{"FailedEntryCount":0}',
    "empty_result": b'{"FailedEntryCount":0,"Entries":[{}]}',
    "not_json": b"<html>Bad Gateway</html>",
    "gzip_junk": gzip.compress(b"[1,2,3]"),
    "huge": b"",  # streamed: 512 MiB of spaces, chunked
}


@dataclass
class BrokenServer:
    url: str
    streamed_bytes: int = 0
    """How much of the endless reply was written before the client hung up."""


@asynccontextmanager
async def broken_server(kind: str) -> AsyncIterator[BrokenServer]:
    """A server answering every call 200 with the broken reply `kind`."""
    server = BrokenServer("")

    async def reply(request: web.Request) -> web.StreamResponse:
        await request.read()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if kind == "gzip_junk":
            headers["Content-Encoding"] = "gzip"
        if kind != "huge":
            return web.Response(body=BROKEN_REPLIES[kind], headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        block = b" " * (1 << 20)
        try:
            for _ in range(512):  # the client hangs up long before the end
                await response.write(block)
                server.streamed_bytes += len(block)
        except ConnectionError:
            pass
        return response

    app = web.Application()
    app.router.add_post("/", reply)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


def isolate_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials the emulator verifies; no proxy or CA setting leaks in from outside."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
