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

from publisher.aws.fastclient import (
    FastRegionClients,
    RequestSigner,
    error_from_response,
    signing_key,
)
from publisher.aws.putevents import CallFailed, SdkRegionClients
from publisher.commands.send import _send
from publisher.emulator import EmulatorOptions, running_emulator
from publisher.emulator.faults import FaultConfig
from publisher.inputs.lines import LineFeed
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


ENDPOINTS_WITH_PATHS = [
    "https://events.us-east-1.amazonaws.com",
    "https://events.us-east-1.amazonaws.com/",
    "http://gateway:8080/eventbridge",
    "http://gateway:8080/eventbridge/",
    "https://gw.example/a/b%20c/d%2Fe/",
    "https://gw.example/a/./b/../c//d~e",
    "https://gw.example:8443/p?z=1&a=2&a=1",
]


async def sdk_request(
    sent: list[dict[str, Any]],
    token: str | None = None,
    endpoint: str = "https://events.us-east-1.amazonaws.com",
) -> AWSRequest:
    """The request aiobotocore would send, captured just before it goes on the wire."""
    captured: list[AWSRequest] = []

    def before_send(request: AWSRequest, **_: Any) -> None:
        captured.append(request)
        raise _Captured

    async with get_session().create_client(
        "events",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
        config=AioConfig(retries={"total_max_attempts": 1}),
    ) as client:
        client.meta.events.register("before-send.events.PutPartnerEvents", before_send)
        with pytest.raises(_Captured):
            await client.put_partner_events(Entries=sent)
    return captured[0]


class _Captured(Exception):
    pass


def frozen_credentials(token: str | None = None) -> ReadOnlyCredentials:
    return ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEBYaDk session token"])
async def test_fast_request_signs_exactly_as_botocore_does(token: str | None) -> None:
    sdk = await sdk_request(entries(), token)
    signer = RequestSigner(
        "https://events.us-east-1.amazonaws.com", "us-east-1", clock=FROZEN.timestamp
    )
    ours = signer.headers(sdk.body, frozen_credentials(token))
    assert signer.url == sdk.url
    names = ["X-Amz-Target", "Content-Type", "X-Amz-Date", "Authorization"]
    if token:
        names.append("X-Amz-Security-Token")
    for name in names:
        assert ours[name] == _text(sdk.headers[name]), name


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("endpoint", ENDPOINTS_WITH_PATHS)
async def test_fast_request_goes_where_the_sdks_goes_and_is_signed_alike(endpoint: str) -> None:
    sdk = await sdk_request(entries(2), endpoint=endpoint)
    signer = RequestSigner(endpoint, "us-east-1", clock=FROZEN.timestamp)
    assert signer.url == sdk.url
    ours = signer.headers(sdk.body, frozen_credentials())
    assert ours["Authorization"] == _text(sdk.headers["Authorization"])


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(
    "endpoint",
    [
        "https://events.us-east-1.amazonaws.com",
        "http://127.0.0.1:4010",
        "https://h.example:8443",
        *ENDPOINTS_WITH_PATHS,
    ],
)
def test_canonical_request_and_signature_equal_botocores(endpoint: str, token: str | None) -> None:
    body = orjson.dumps({"Entries": entries(20)})
    signer = RequestSigner(endpoint, "eu-west-1")
    amz_date = FROZEN.strftime("%Y%m%dT%H%M%SZ")
    ours = signer.headers(body, frozen_credentials(token), now=FROZEN)

    theirs = AWSRequest(
        method="POST",
        url=signer.url,
        data=body,
        headers={
            "X-Amz-Target": "AWSEvents.PutPartnerEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    botocore_signer = SigV4Auth(frozen_credentials(token), "events", "eu-west-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN):
        botocore_signer.add_auth(theirs)
    assert ours["Authorization"] == theirs.headers["Authorization"]
    del theirs.headers["Authorization"]
    theirs.context["timestamp"] = amz_date
    canonical, _ = signer.canonical_request(body, amz_date, token)
    assert canonical == botocore_signer.canonical_request(theirs)


@pytest.mark.usefixtures("frozen_clock")
async def test_fast_body_says_what_the_sdk_body_says() -> None:
    sent = entries(20)
    sdk = await sdk_request(sent)
    ours = orjson.dumps({"Entries": sent})
    assert orjson.loads(ours) == json.loads(sdk.body)


def test_signing_key_is_derived_once_per_day() -> None:
    signer = RequestSigner("https://events.us-east-1.amazonaws.com", "us-east-1")
    with mock.patch("publisher.aws.fastclient.signing_key", wraps=signing_key) as derive:
        for _ in range(3):
            signer.headers(b"{}", frozen_credentials(), now=FROZEN)
        signer.headers(b"{}", frozen_credentials(), now=FROZEN + datetime.timedelta(days=1))
    assert derive.call_count == 2


def test_the_date_header_follows_the_clock_across_seconds_and_days() -> None:
    now = [FROZEN.timestamp() + 0.2]
    signer = RequestSigner("https://events.us-east-1.amazonaws.com", "us-east-1", lambda: now[0])
    first = signer.headers(b"{}", frozen_credentials())
    now[0] += 0.7  # same second
    assert signer.headers(b"{}", frozen_credentials())["X-Amz-Date"] == "20261122T050000Z"
    now[0] += 0.2  # the next second
    assert signer.headers(b"{}", frozen_credentials())["X-Amz-Date"] == "20261122T050001Z"
    now[0] += 86_400
    later = signer.headers(b"{}", frozen_credentials())
    assert later["X-Amz-Date"] == "20261123T050001Z"
    assert "/20261123/us-east-1/events/aws4_request" in later["Authorization"]
    assert first["Authorization"] != later["Authorization"]


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
        faults=FaultConfig(seed=4),
        accept_unknown_sources=True,  # about the clients, not sources
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
    feed = LineFeed(io.BufferedReader(io.BytesIO(lines)))
    tally = await asyncio.wait_for(_send(settings, feed, progress_interval_s=0), 60)
    assert (tally.published, tally.dead_lettered, feed.lines_read) == (600, 0, 600)
    delivered = Counter(r["detail"]["n"] for r in verifying_emulator.state.events.delivered.records)
    assert delivered == Counter(range(600))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
