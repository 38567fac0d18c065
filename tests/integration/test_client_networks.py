"""One behaviour suite, run for both clients (`sdk`, `fast`), on networks that are not loopback.

Each test drives the whole engine over real HTTP and checks that every event was accepted
exactly once, or dead-lettered with a reason: a path prefix (an API gateway), a forward proxy
process (HTTP and CONNECT), NO_PROXY, a private CA trusted only through AWS_CA_BUNDLE, gzip
replies, malformed and oversize 200s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from publisher.emulator import EmulatorOptions, running_emulator
from publisher.emulator.faults import FaultConfig
from publisher.errors import ConfigError
from tests.integration.network_support import (
    ACCESS_KEY,
    BROKEN_REPLIES,
    HIDDEN_HOST,
    SECRET_KEY,
    Certificates,
    RunningProxy,
    broken_server,
    delivered_numbers,
    engine_settings,
    forward_proxy,
    isolate_aws_environment,
    make_certificates,
    publish,
)

CLIENTS = ["sdk", "fast"]
EVENTS = 60


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)


def options(**switches: Any) -> EmulatorOptions:
    """An emulator that verifies every signature (and delivers for sources never created:
    these tests are about the network, not sources)."""
    return EmulatorOptions(
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        accept_unknown_sources=True,
        **switches,
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"), [HIDDEN_HOST], ["127.0.0.1"])


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with forward_proxy(tmp_path, {HIDDEN_HOST: "127.0.0.1"}) as running:
        yield running


@pytest.fixture
async def https_emulator(certificates: Certificates) -> AsyncIterator[Any]:
    switches = {"tls_cert": str(certificates.cert), "tls_key": str(certificates.key)}
    async with running_emulator(options(**switches, path_prefix="/eventbridge")) as emulator:
        yield emulator


def assert_each_accepted_once(emulator: Any, run: Any) -> None:
    assert (run.published, run.dead_lettered) == (EVENTS, 0)
    assert delivered_numbers(emulator) == list(range(EVENTS))
    assert emulator.state.stats.calls["auth_error"] == 0


# -- a path prefix: an API gateway in front of AWS -------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("trailing_slash", ["", "/"])
async def test_an_endpoint_with_a_path_is_posted_to_and_signed_with_that_path(
    kind: str, trailing_slash: str, tmp_path: Path
) -> None:
    async with running_emulator(options(path_prefix="/gateway/eventbridge")) as emulator:
        assert emulator.url.endswith("/gateway/eventbridge")
        endpoint = emulator.url + trailing_slash
        run = await publish(engine_settings(tmp_path, kind, endpoint), EVENTS)
        assert_each_accepted_once(emulator, run)


# -- a forward proxy from the environment --------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
async def test_http_proxy_carries_every_call_to_the_path_botocore_posts_to(
    kind: str, tmp_path: Path, proxy: RunningProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Credentials in the proxy URL go to the proxy, as botocore's Proxy-Authorization.
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("//", "//user:secret@"))
    async with running_emulator(options(path_prefix="/eventbridge")) as emulator:
        endpoint = f"http://{HIDDEN_HOST}:{emulator.port}/eventbridge"
        run = await publish(engine_settings(tmp_path, kind, endpoint), EVENTS)
        assert_each_accepted_once(emulator, run)
        calls = emulator.state.stats.requests
    seen = proxy.requests()
    # Every call the emulator answered came through the proxy: only it knows HIDDEN_HOST.
    assert len(seen) == calls >= EVENTS // 20
    assert {(r["method"], r["target"]) for r in seen} == {("POST", endpoint)}
    assert {r["headers"].get("Accept-Encoding") for r in seen} == {"identity"}
    assert {r["headers"].get("Proxy-Authorization") for r in seen} == {"Basic dXNlcjpzZWNyZXQ="}


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize(
    "no_proxy", ["example.com,127.0.0.1", "127.0.0.1:{port}", ".example.com, 127.0.0.0/8", "*"]
)
async def test_no_proxy_host_port_and_cidr_forms_bypass_the_proxy(
    kind: str, no_proxy: str, tmp_path: Path, proxy: RunningProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with running_emulator(options()) as emulator:
        monkeypatch.setenv("NO_PROXY", no_proxy.format(port=emulator.port))
        run = await publish(engine_settings(tmp_path, kind, emulator.url), EVENTS)
        assert_each_accepted_once(emulator, run)
    assert proxy.requests() == []  # every call is settled: none can still be on its way


@pytest.mark.parametrize("kind", CLIENTS)
async def test_aws_proxies_setting_replaces_the_environment(
    kind: str, tmp_path: Path, proxy: RunningProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")  # ignored: aws.proxies replaces the environment
    async with running_emulator(options()) as emulator:
        endpoint = f"http://{HIDDEN_HOST}:{emulator.port}"
        settings = engine_settings(tmp_path, kind, endpoint, proxies={"http": proxy.url})
        run = await publish(settings, EVENTS)
        assert_each_accepted_once(emulator, run)
        assert len(proxy.requests()) == emulator.state.stats.requests


# -- TLS with a private CA -------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_private_ca_is_trusted_through_aws_ca_bundle(
    kind: str,
    tmp_path: Path,
    https_emulator: Any,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificates.ca))
    assert https_emulator.url.startswith("https://127.0.0.1:")
    run = await publish(engine_settings(tmp_path, kind, https_emulator.url), EVENTS)
    assert_each_accepted_once(https_emulator, run)


@pytest.mark.parametrize("kind", CLIENTS)
async def test_the_aws_ca_bundle_setting_is_botocores_ca_bundle(
    kind: str, tmp_path: Path, https_emulator: Any, certificates: Certificates
) -> None:
    settings = engine_settings(tmp_path, kind, https_emulator.url, ca_bundle=str(certificates.ca))
    run = await publish(settings, EVENTS)
    assert_each_accepted_once(https_emulator, run)


@pytest.mark.parametrize("kind", CLIENTS)
async def test_without_the_bundle_the_private_ca_is_refused_and_nothing_is_lost(
    kind: str, tmp_path: Path, https_emulator: Any
) -> None:
    run = await publish(engine_settings(tmp_path, kind, https_emulator.url), 5)
    assert (run.published, run.dead_lettered) == (0, 5)
    assert https_emulator.state.stats.requests == 0  # refused during the handshake
    assert {letter["reason"] for letter in run.dead_letters} == {"attempts_exhausted"}
    assert {letter["error_code"] for letter in run.dead_letters} == {"NetworkError"}
    assert all("certificate" in letter["error_message"].lower() for letter in run.dead_letters)


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_missing_bundle_stops_the_start_even_for_plain_http(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiobotocore opens the bundle for plain HTTP too and would fail every call.
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "not-there.pem"))
    async with running_emulator(options()) as emulator:
        with pytest.raises(ConfigError, match=r"cannot load the CA bundle .*not-there\.pem"):
            await publish(engine_settings(tmp_path, kind, emulator.url), EVENTS)
        assert emulator.state.stats.requests == 0


@pytest.mark.parametrize("kind", CLIENTS)
async def test_https_through_an_http_proxy_tunnels_with_connect(
    kind: str,
    tmp_path: Path,
    https_emulator: Any,
    certificates: Certificates,
    proxy: RunningProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificates.ca))
    endpoint = f"https://{HIDDEN_HOST}:{https_emulator.port}/eventbridge"
    run = await publish(engine_settings(tmp_path, kind, endpoint), EVENTS)
    assert_each_accepted_once(https_emulator, run)
    seen = proxy.requests()
    assert seen  # the tunnels carried every call: only the proxy resolves HIDDEN_HOST
    assert {(r["method"], r["target"]) for r in seen} == {
        ("CONNECT", f"{HIDDEN_HOST}:{https_emulator.port}")
    }


# -- compressed replies ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("gzip_responses", ["accepted", "always"])
async def test_gzip_replies_count_each_event_once(
    kind: str, gzip_responses: str, tmp_path: Path
) -> None:
    async with running_emulator(options(gzip_responses=gzip_responses)) as emulator:
        run = await publish(engine_settings(tmp_path, kind, emulator.url), EVENTS)
        assert_each_accepted_once(emulator, run)
        assert emulator.state.stats.requests == run.metric(
            "publisher_put_requests_total", outcome="ok"
        )


# -- malformed and oversize 200s -------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
async def test_malformed_replies_are_retried_until_each_event_is_accepted_once(
    kind: str, tmp_path: Path
) -> None:
    async with running_emulator(
        options(faults=FaultConfig(malformed_rate=0.4, seed=3))
    ) as emulator:
        run = await publish(engine_settings(tmp_path, kind, emulator.url, max_attempts=12), EVENTS)
        assert_each_accepted_once(emulator, run)
        malformed = emulator.state.stats.calls["malformed"]
    assert malformed > 0
    assert run.metric("publisher_put_requests_total", outcome="retryable_error") == malformed
    assert run.metric("publisher_events_retried_total", error_code="MalformedResponse") > 0


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("reply", BROKEN_REPLIES)
async def test_a_broken_200_never_counts_as_published_and_never_stops_the_engine(
    kind: str, reply: str, tmp_path: Path
) -> None:
    async with broken_server(reply) as server:
        run = await publish(engine_settings(tmp_path, kind, server.url), 5)
    assert (run.published, run.dead_lettered) == (0, 5)
    # Two attempts at 2 MiB each, plus what socket buffers took: nowhere near the 512 MiB sent.
    assert server.streamed_bytes < 64 << 20
    assert {letter["reason"] for letter in run.dead_letters} == {"attempts_exhausted"}
    assert {letter["error_code"] for letter in run.dead_letters} == {"MalformedResponse"}
    assert all("HTTP 200" in letter["error_message"] for letter in run.dead_letters)
    assert run.metric("publisher_put_requests_total", outcome="retryable_error") >= 1
