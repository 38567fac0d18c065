"""env_session answers as aiobotocore's session does, and only where that is certain."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from publisher.aws.endpoints import events_endpoint
from publisher.aws.env_session import env_session
from publisher.aws.network import ca_bundle_for
from publisher.settings import AwsSettings

SETTINGS = (
    "ca_bundle",
    "use_fips_endpoint",
    "use_dualstack_endpoint",
    "ignore_configured_endpoint_urls",
    "data_path",
    "region",
)
ENVIRONMENT = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_CA_BUNDLE", "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DATA_PATH", "AWS_DEFAULT_REGION",
)  # fmt: skip


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Static keys in the environment, no shared files (their paths name nothing)."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


def frozen(session: Any) -> tuple[str, str, str | None]:
    async def read() -> Any:
        credentials = await session.get_credentials()
        return await credentials.get_frozen_credentials()

    keys = asyncio.run(read())
    return keys.access_key, keys.secret_key, keys.token


def same_answers(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    light, sdk = env_session(AwsSettings()), AioSession()
    assert light is not None
    assert frozen(light) == frozen(sdk)
    for name in SETTINGS:
        assert light.get_config_variable(name) == sdk.get_config_variable(name), name
    assert ca_bundle_for(None, light) == ca_bundle_for(None, sdk)
    for region in ("us-east-1", "eu-west-1", "us-gov-west-1", "cn-north-1", "fips-us-east-1"):
        assert events_endpoint(light, region) == events_endpoint(sdk, region), region


def test_static_keys_and_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    same_answers(monkeypatch)


def test_a_session_token_and_every_setting_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    same_answers(
        monkeypatch,
        AWS_SESSION_TOKEN="token",
        AWS_CA_BUNDLE="/etc/ssl/private-ca.pem",
        AWS_USE_FIPS_ENDPOINT="true",
        AWS_USE_DUALSTACK_ENDPOINT="TRUE",
        AWS_DEFAULT_REGION="eu-west-1",
    )


def test_configured_endpoints_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    same_answers(monkeypatch, AWS_ENDPOINT_URL_EVENTBRIDGE="http://gateway:4010")
    same_answers(monkeypatch, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true")


@pytest.mark.parametrize(
    "variables",
    [
        {"AWS_PROFILE": "default"},
        {"AWS_DEFAULT_PROFILE": "ops"},
        {"AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00Z"},
        {"AWS_ACCESS_KEY_ID": ""},
        {"AWS_SECRET_ACCESS_KEY": ""},
    ],
)
def test_the_sdk_session_decides_when_the_environment_alone_does_not(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert env_session(AwsSettings()) is None


@pytest.mark.parametrize("name", ["config", "credentials"])
def test_a_shared_file_leaves_it_to_the_sdk_session(environment: Path, name: str) -> None:
    (environment / name).write_text("[default]\nca_bundle = /etc/ssl/other.pem\n")
    assert env_session(AwsSettings()) is None


def test_a_named_profile_leaves_it_to_the_sdk_session() -> None:
    assert env_session(AwsSettings(profile="ops")) is None
