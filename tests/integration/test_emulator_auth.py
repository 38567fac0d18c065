"""Wire protocol and SigV4 checks of the emulator: what a bad client gets back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from emulator_support import control, entry, events_client, raw_call

from publisher.emulator import EmulatorOptions, RunningEmulator, running_emulator

# About signatures, not sources: unknown sources deliver.
STRICT = EmulatorOptions(
    access_key_id="AKIDEXAMPLE", secret_access_key="s3cr3t", accept_unknown_sources=True
)


@pytest.fixture
async def strict() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(STRICT) as emu:
        yield emu


def code_of(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


async def test_right_credentials_pass(strict: RunningEmulator) -> None:
    async with events_client(strict.url, key="AKIDEXAMPLE", secret="s3cr3t") as client:
        response = await client.put_partner_events(Entries=[entry()])
    assert response["FailedEntryCount"] == 0
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/x-amz-json-1.1"
    )


async def test_wrong_secret_is_a_signature_mismatch(strict: RunningEmulator) -> None:
    async with events_client(strict.url, key="AKIDEXAMPLE", secret="guess") as client:
        with pytest.raises(ClientError) as caught:
            await client.put_partner_events(Entries=[entry()])
    assert code_of(caught) == "InvalidSignatureException"
    assert caught.value.response["Error"]["Message"].startswith(
        "The request signature we calculated does not match"
    )
    assert strict.state.events.delivered.records == []


async def test_unknown_access_key_is_unrecognized(strict: RunningEmulator) -> None:
    async with events_client(strict.url, key="AKIDOTHER", secret="s3cr3t") as client:
        with pytest.raises(ClientError) as caught:
            await client.put_partner_events(Entries=[entry()])
    assert code_of(caught) == "UnrecognizedClientException"


async def test_wrong_region_scope_is_refused(strict: RunningEmulator) -> None:
    async with events_client(
        strict.url, key="AKIDEXAMPLE", secret="s3cr3t", region="eu-west-1"
    ) as client:
        with pytest.raises(ClientError) as caught:
            await client.put_partner_events(Entries=[entry()])
    assert code_of(caught) == "InvalidSignatureException"
    assert "region" in caught.value.response["Error"]["Message"]


def signed_headers(url: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={
            "X-Amz-Target": "AWSEvents.PutPartnerEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials("AKIDEXAMPLE", "s3cr3t"), "events", "us-east-1").add_auth(request)
    return dict(request.headers.items())


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/", data=body, headers=headers) as response,
    ):
        return response.status, orjson.loads(await response.read())


async def test_tampered_body_fails_verification(strict: RunningEmulator) -> None:
    body = orjson.dumps({"Entries": [entry()]})
    headers = signed_headers(strict.url, body)
    status, ok = await post(strict.url, body, headers)
    assert (status, ok["FailedEntryCount"]) == (200, 0)

    tampered = orjson.dumps({"Entries": [entry(DetailType="Tampered")]})
    status, refused = await post(strict.url, tampered, headers)
    assert (status, refused["__type"]) == (400, "InvalidSignatureException")


async def test_stale_signature_is_refused(strict: RunningEmulator) -> None:
    body = orjson.dumps({"Entries": [entry()]})
    headers = signed_headers(strict.url, body)
    headers["X-Amz-Date"] = "20200101T000000Z"
    status, refused = await post(strict.url, body, headers)
    assert (status, refused["__type"]) == (400, "InvalidSignatureException")
    assert refused["message"].startswith("Signature expired")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "MissingAuthenticationTokenException"),
        ("Bearer abc", "MissingAuthenticationTokenException"),
        ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/events/aws4_request",
         "IncompleteSignatureException"),
        ("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
         "IncompleteSignatureException"),
        ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sqs/aws4_request, "
         "SignedHeaders=host, Signature=00", "InvalidSignatureException"),
    ],
)  # fmt: skip
async def test_malformed_authorization(
    strict: RunningEmulator, authorization: str | None, code: str
) -> None:
    status, body, headers = await raw_call(
        strict.url, "AWSEvents.PutPartnerEvents", {"Entries": [entry()]}, auth=authorization
    )
    assert (status, body["__type"]) == (400, code)
    assert body["message"]
    assert headers["x-amzn-RequestId"]
    _, stats = await control(strict.url, "GET", "/_emulator/stats")
    assert stats["calls"]["auth_error"] == 1


async def test_without_a_secret_any_signed_client_is_accepted() -> None:
    async with (
        running_emulator(EmulatorOptions(accept_unknown_sources=True)) as emu,
        events_client(emu.url, key="anything", secret="whatever") as client,
    ):
        response = await client.put_partner_events(Entries=[entry()])
    assert response["FailedEntryCount"] == 0


async def test_unknown_operation(strict: RunningEmulator) -> None:
    async with events_client(strict.url, key="AKIDEXAMPLE", secret="s3cr3t") as client:
        with pytest.raises(ClientError) as caught:
            await client.put_events(Entries=[{"Source": "x", "DetailType": "y", "Detail": "{}"}])
    assert code_of(caught) == "UnknownOperationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
