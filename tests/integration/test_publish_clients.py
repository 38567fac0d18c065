"""The fast and the SDK PutPartnerEvents clients: equivalent requests, the same behaviour."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from publisher.commands.send import _send
from publisher.emulator import EmulatorOptions, running_emulator
from publisher.emulator.faults import FaultConfig
from publisher.eventbridge import CallFailed, SdkRegionClients
from publisher.fastclient import FastRegionClients, error_from_response, signed_request
from publisher.settings import AwsSettings, PublishSettings, Settings

SOURCE = "aws.partner/example.com/acme/orders"
FROZEN = datetime.datetime(2026, 11, 22, 5, 0, 0, tzinfo=datetime.UTC)
CLIENTS = {"fast": FastRegionClients, "sdk": SdkRegionClients}


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN),
        mock.patch("aiobotocore.signers.get_current_datetime", return_value=FROZEN),
    ):
        yield


def entries(count: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "Source": SOURCE,
            "DetailType": "OrderCreated",
            "Detail": json.dumps({"order_id": f"ord-{n}", "amount": n}),
            "Resources": [f"order/{n}"],
            "Time": 1795323600,
        }
        for n in range(count)
    ]


async def sdk_request(sent: list[dict[str, Any]]) -> AWSRequest:
    """The request aiobotocore would send, captured just before it goes on the wire."""
    captured: list[AWSRequest] = []

    def before_send(request: AWSRequest, **_: Any) -> None:
        captured.append(request)
        raise _Captured

    async with get_session().create_client(
        "events",
        region_name="us-east-1",
        endpoint_url="https://events.us-east-1.amazonaws.com",
        config=AioConfig(retries={"total_max_attempts": 1}),
    ) as client:
        client.meta.events.register("before-send.events.PutPartnerEvents", before_send)
        with pytest.raises(_Captured):
            await client.put_partner_events(Entries=sent)
    return captured[0]


class _Captured(Exception):
    pass


def frozen_credentials() -> ReadOnlyCredentials:
    return ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)


@pytest.mark.usefixtures("frozen_clock")
async def test_fast_request_signs_exactly_as_botocore_does() -> None:
    sdk = await sdk_request(entries())
    ours = signed_request(
        "https://events.us-east-1.amazonaws.com", "us-east-1", sdk.body, frozen_credentials()
    )
    assert ours.url == sdk.url
    for header in ("X-Amz-Target", "Content-Type", "X-Amz-Date", "Authorization"):
        assert _text(ours.headers[header]) == _text(sdk.headers[header]), header
    # The canonical request is the same too (same signer, same signed headers, same body).
    signed = ("X-Amz-Target", "Content-Type", "X-Amz-Date")
    theirs = AWSRequest(
        method=sdk.method,
        url=sdk.url,
        data=sdk.body,
        headers={name: _text(sdk.headers[name]) for name in signed},
    )
    del ours.headers["Authorization"]  # a signed request's canonical form leaves it out
    signer = SigV4Auth(frozen_credentials(), "events", "us-east-1")
    ours.context["timestamp"] = theirs.context["timestamp"] = FROZEN.strftime("%Y%m%dT%H%M%SZ")
    assert signer.canonical_request(ours) == signer.canonical_request(theirs)


@pytest.mark.usefixtures("frozen_clock")
async def test_fast_body_says_what_the_sdk_body_says() -> None:
    sent = entries(20)
    sdk = await sdk_request(sent)
    ours = orjson.dumps({"Entries": sent})
    assert orjson.loads(ours) == json.loads(sdk.body)


@pytest.mark.usefixtures("frozen_clock")
def test_cached_signing_key_gives_botocores_signature_across_regions() -> None:
    for region in ("us-east-1", "eu-west-1", "us-east-1"):
        body = b'{"Entries":[]}'
        ours = signed_request(
            f"https://events.{region}.amazonaws.com", region, body, frozen_credentials()
        )
        plain = AWSRequest(
            method="POST",
            url=f"https://events.{region}.amazonaws.com/",
            data=body,
            headers={
                "X-Amz-Target": "AWSEvents.PutPartnerEvents",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        SigV4Auth(frozen_credentials(), "events", region).add_auth(plain)
        assert ours.headers["Authorization"] == plain.headers["Authorization"]


def test_error_codes_are_read_like_botocore_reads_them() -> None:
    cases = [
        (400, {}, b'{"__type": "com.amazonaws.events#ThrottlingException", "message": "slow"}'),
        (400, {"x-amzn-ErrorType": "ThrottlingException:http://internal/"}, b""),
        (400, {}, b'{"__type": "ThrottlingException", "Message": "slow"}'),
    ]
    for status, headers, body in cases:
        assert error_from_response(status, headers, body).code == "ThrottlingException"
    failed = error_from_response(503, {}, b"<html>busy</html>")
    assert (failed.code, failed.http_status) == ("HTTP503", 503)


@pytest.fixture
async def verifying_emulator() -> AsyncIterator[Any]:
    options = EmulatorOptions(
        access_key_id="AKIDEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        seed=4,
    )
    async with running_emulator(options) as emulator:
        yield emulator


def set_faults(emulator: Any, faults: dict[str, Any]) -> None:
    emulator.state.faults.configure(FaultConfig.from_json(faults))


async def call(kind: str, url: str, sent: list[dict[str, Any]]) -> Any:
    clients_type = CLIENTS[kind]
    async with clients_type(AwsSettings(endpoint_url=url), PublishSettings()) as clients:
        client = await clients.get("us-east-1")
        try:
            return await client.put_partner_events(sent)
        except CallFailed as exc:
            return exc


@pytest.mark.parametrize("kind", CLIENTS)
async def test_signature_is_verified_by_the_emulator(kind: str, verifying_emulator: Any) -> None:
    results = await call(kind, verifying_emulator.url, entries(5))
    assert [r.error_code for r in results] == [None] * 5
    assert all(r.event_id for r in results)


@pytest.mark.parametrize("kind", CLIENTS)
async def test_wrong_secret_is_refused_the_same_way(
    kind: str, verifying_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    failed = await call(kind, verifying_emulator.url, entries(1))
    assert isinstance(failed, CallFailed)
    assert (failed.code, failed.http_status) == ("InvalidSignatureException", 400)


FAULTS = {
    "throttle_rate": ("ThrottlingException", 400),
    "error_500_rate": ("InternalException", 500),
    "error_503_rate": ("ServiceUnavailable", 503),
}


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("fault", FAULTS)
async def test_whole_call_faults_map_to_the_same_error(
    kind: str, fault: str, verifying_emulator: Any
) -> None:
    set_faults(verifying_emulator, {fault: 1.0})
    failed = await call(kind, verifying_emulator.url, entries(2))
    assert isinstance(failed, CallFailed)
    assert (failed.code, failed.http_status) == FAULTS[fault]


@pytest.mark.parametrize("kind", CLIENTS)
async def test_dropped_connections_and_validation_map_the_same_way(
    kind: str, verifying_emulator: Any
) -> None:
    set_faults(verifying_emulator, {"drop_rate": 1.0})
    dropped = await call(kind, verifying_emulator.url, entries(1))
    assert isinstance(dropped, CallFailed)
    assert dropped.code == "NetworkError"
    set_faults(verifying_emulator, {})
    too_many = await call(kind, verifying_emulator.url, entries(21))
    assert isinstance(too_many, CallFailed)
    assert (too_many.code, too_many.http_status) == ("ValidationException", 400)


@pytest.mark.parametrize("kind", CLIENTS)
async def test_partial_failures_come_back_per_entry(kind: str, verifying_emulator: Any) -> None:
    set_faults(verifying_emulator, {"entry_error_rates": {"InternalFailure": 1.0}})
    results = await call(kind, verifying_emulator.url, entries(3))
    assert [r.error_code for r in results] == ["InternalFailure"] * 3


@pytest.mark.parametrize("kind", CLIENTS)
async def test_whole_engine_under_every_fault_publishes_each_event_once(
    kind: str, verifying_emulator: Any, tmp_path: Path
) -> None:
    set_faults(
        verifying_emulator,
        {
            "entry_error_rates": {"ThrottlingException": 0.1, "InternalFailure": 0.1},
            "throttle_rate": 0.05,
            "error_500_rate": 0.05,
            "error_503_rate": 0.05,
            "drop_rate": 0.05,
            "seed": 9,
        },
    )
    settings = Settings.model_validate(
        {
            "aws": {"endpoint_url": verifying_emulator.url},
            "publish": {"client": kind, "linger_ms": 5},
            "retry": {"base_delay_ms": 5, "max_delay_ms": 100},
            "dead_letter": {"path": str(tmp_path / "dl.jsonl")},
            "tenants": {"acme": {"account": "111122223333", "source": SOURCE}},
        }
    )
    lines = b"".join(
        orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": {"n": n}}) + b"\n"
        for n in range(600)
    )
    tally = await asyncio.wait_for(_send(settings, io.BytesIO(lines), progress_interval_s=0), 60)
    assert (tally.published, tally.dead_lettered) == (600, 0)
    delivered = Counter(r["detail"]["n"] for r in verifying_emulator.state.events.delivered.records)
    assert delivered == Counter(range(600))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
