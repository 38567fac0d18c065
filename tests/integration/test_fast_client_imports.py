"""A route reached directly never imports aiohttp's client; one through a proxy does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import cli_env, emulator_process

# One call over the fast client in a fresh interpreter; prints whether aiohttp's client
# module was imported, and the call's result.
SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from publisher.aws.fastclient import FastRegionClients
    from publisher.settings import AwsSettings, PublishSettings

    async def main(url, proxies):
        aws = AwsSettings(endpoint_url=url, proxies=proxies)
        async with FastRegionClients(aws, PublishSettings()) as clients:
            client = await clients.get("us-east-1")
            entry = {
                "Source": "aws.partner/example.com/123456789012/orders",
                "DetailType": "T",
                "Detail": "{}",
            }
            try:
                results = await client.put_partner_events([entry])
                outcome = "ok" if results[0].event_id else "refused"
            except Exception as exc:
                outcome = type(exc).__name__
        return {"aiohttp_client": "aiohttp.client" in sys.modules, "outcome": outcome}

    print(json.dumps(asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))))
    """
)


def call_in_fresh_process(url: str, proxies: dict[str, str] | None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, json.dumps(proxies)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_direct_route_publishes_without_importing_aiohttps_client() -> None:
    with emulator_process("--accept-unknown-sources") as url:
        assert call_in_fresh_process(url, None) == {"aiohttp_client": False, "outcome": "ok"}


def test_a_proxied_route_goes_over_aiohttp() -> None:
    with emulator_process("--accept-unknown-sources") as url:
        # No proxy listens on port 9: the call fails, over aiohttp, as a network error.
        got = call_in_fresh_process(url, {"http": "http://127.0.0.1:9"})
        assert got == {"aiohttp_client": True, "outcome": "CallFailed"}
