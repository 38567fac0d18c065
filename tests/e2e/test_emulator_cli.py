"""The emulator command as a process: announces its port, serves calls, exits 0 on signals."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

SOURCE = "aws.partner/example.com/acme/orders"
ENTRY = {"Source": SOURCE, "DetailType": "OrderCreated", "Detail": '{"id": 1}'}
COMMANDS = [
    pytest.param([sys.executable, "-m", "publisher.emulator"], id="module"),
    pytest.param(
        [sys.executable, "-m", "publisher", "emulator"],
        id="partner-publisher",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("publisher.cli") is None, reason="CLI not wired yet"
        ),
    ),
]


@asynccontextmanager
async def started(
    command: list[str], *flags: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    process = await asyncio.create_subprocess_exec(
        *command, "--port", "0", *flags, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
            assert line, "emulator exited before listening"
            if line.startswith("emulator listening on http://127.0.0.1:"):
                break
        yield process, line.split()[-1]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def client(url: str, secret: str = "testing"):  # type: ignore[no-untyped-def]
    return get_session().create_client(
        "events",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        config=AioConfig(retries={"total_max_attempts": 1}),
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serves_then_exits_zero_on_signal(command: list[str], signum: int) -> None:
    async with started(command) as (process, url), client(url) as events:
        response = await events.put_partner_events(Entries=[ENTRY])
        # Strict by default: a source nobody created fails, as in AWS.
        assert response["Entries"][0]["ErrorCode"] == "ResourceNotFoundException"
        process.send_signal(signum)
        assert await asyncio.wait_for(process.wait(), 20) == 0


async def test_flags_reach_the_emulator() -> None:
    flags = (
        "--secret-access-key", "testing", "--accept-unknown-sources",
        "--fault-entry", "InternalFailure=1.0", "--seed", "3",
    )  # fmt: skip
    async with started([sys.executable, "-m", "publisher.emulator"], *flags) as (process, url):
        async with client(url) as events:
            response = await events.put_partner_events(Entries=[ENTRY])
            # The unknown source is accepted, so the injected entry fault is what fails it.
            assert response["Entries"][0]["ErrorCode"] == "InternalFailure"
        async with client(url, secret="wrong") as events:
            with pytest.raises(ClientError) as caught:
                await events.put_partner_events(Entries=[ENTRY])
            assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 20) == 0


async def test_bad_flag_is_a_usage_error() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "publisher.emulator", "--fault-throttle", "2",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"rate must be between 0 and 1" in stderr
