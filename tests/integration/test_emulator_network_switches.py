"""The emulator's network switches: a path prefix, gzip replies, malformed replies as a fault."""

from __future__ import annotations

import argparse
import gzip
from typing import Any

import aiohttp
import orjson
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from publisher.commands.emulator import options_from_args, register
from publisher.emulator import EmulatorOptions, running_emulator
from publisher.emulator.faults import MALFORMED_REPLIES, FaultConfig
from tests.integration.emulator_support import SIGV4_HEADER, entry, events_client


def lenient(**switches: Any) -> EmulatorOptions:
    """Events for sources never created are delivered: these tests are about the switches."""
    return EmulatorOptions(accept_unknown_sources=True, **switches)


PUT = {"X-Amz-Target": "AWSEvents.PutPartnerEvents", "Authorization": SIGV4_HEADER}


async def post(url: str, headers: dict[str, str]) -> tuple[int, bytes, Any]:
    """A PutPartnerEvents call with one entry; the body exactly as it came (never decoded)."""
    body = orjson.dumps({"Entries": [entry()]})
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(url, data=body, headers={**PUT, **headers}) as response,
    ):
        return response.status, await response.read(), response.headers


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_a_path_prefix_serves_the_calls_at_the_prefix_with_or_without_slash(
    suffix: str,
) -> None:
    async with (
        running_emulator(lenient(path_prefix="gw/eventbridge/")) as emulator,
        events_client(emulator.url + suffix) as client,
    ):
        assert emulator.url.endswith(f":{emulator.port}/gw/eventbridge")
        reply = await client.put_partner_events(Entries=[entry()])
        assert reply["FailedEntryCount"] == 0
        status, _, _ = await post(emulator.url.removesuffix("/gw/eventbridge") + "/", {})
        assert status == 404  # outside the prefix nothing answers, as behind a gateway
        async with (
            aiohttp.ClientSession() as session,
            session.get(emulator.url + "/_emulator/stats") as stats,
        ):
            assert (await stats.json())["calls"]["ok"] == 1


async def test_rest_json_services_follow_the_prefix_too() -> None:
    async with (
        running_emulator(EmulatorOptions(path_prefix="/gw")) as emulator,
        get_session().create_client(
            "appintegrations",
            region_name="us-east-1",
            endpoint_url=emulator.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=AioConfig(retries={"total_max_attempts": 1}),
        ) as client,
    ):
        listed = await client.list_event_integrations()
    assert listed["EventIntegrations"] == []


@pytest.mark.parametrize(
    ("mode", "accept", "gzipped"),
    [
        ("accepted", "deflate, gzip", True),
        ("accepted", "identity", False),
        ("always", "identity", True),
        ("off", "gzip", False),
    ],
)
async def test_gzip_replies_follow_the_switch(mode: str, accept: str, gzipped: bool) -> None:
    async with running_emulator(lenient(gzip_responses=mode)) as emulator:
        status, body, headers = await post(emulator.url, {"Accept-Encoding": accept})
    assert status == 200
    assert (headers.get("Content-Encoding") == "gzip") is gzipped
    reply = orjson.loads(gzip.decompress(body) if gzipped else body)
    assert reply["FailedEntryCount"] == 0


async def test_malformed_replies_take_no_entries_and_are_counted() -> None:
    async with running_emulator(lenient(faults=FaultConfig(malformed_rate=1.0))) as emulator:
        bodies = {(await post(emulator.url, {}))[1] for _ in range(30)}
        assert emulator.state.stats.calls["malformed"] == 30
        assert emulator.state.events.delivered.records == []
    assert bodies <= set(MALFORMED_REPLIES)
    assert len(bodies) > 1


def test_the_cli_flags_set_the_switches() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "emulator", "--path-prefix", "/gw", "--tls-cert", "c.pem", "--tls-key", "k.pem",
            "--gzip-responses", "always", "--fault-malformed", "0.25",
        ]
    )  # fmt: skip
    switches = options_from_args(args)
    assert (switches.path_prefix, switches.tls_cert, switches.tls_key) == ("/gw", "c.pem", "k.pem")
    assert (switches.gzip_responses, switches.faults.malformed_rate) == ("always", 0.25)


async def test_malformed_replies_can_be_switched_on_at_run_time() -> None:
    async with running_emulator(lenient()) as emulator, aiohttp.ClientSession() as session:
        faults_url = emulator.url + "/_emulator/faults"
        async with session.post(faults_url, json={"malformed_rate": 1.0}) as answer:
            assert answer.status == 200
        async with session.get(faults_url) as answer:
            assert (await answer.json())["malformed_rate"] == 1.0
        _, body, _ = await post(emulator.url, {})
        assert body in MALFORMED_REPLIES
        assert emulator.state.stats.calls["malformed"] == 1
