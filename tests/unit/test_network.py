"""Proxies and CA bundles are chosen as botocore chooses them (NO_PROXY CIDR entries besides)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiobotocore.session import AioSession
from botocore.utils import get_environ_proxies

from publisher.aws.network import (
    ca_bundle_for,
    needs_tls_at_start,
    proxies_for,
    proxy_url_for,
    tls_context,
)
from publisher.errors import ConfigError

PROXY = "http://proxy.internal:3128"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "AWS_CONFIG_FILE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("HTTP_PROXY", PROXY)
    monkeypatch.setenv("HTTPS_PROXY", PROXY)


@pytest.mark.parametrize(
    ("no_proxy", "endpoint"),
    [
        (None, "https://events.us-east-1.amazonaws.com"),
        ("amazonaws.com", "https://events.us-east-1.amazonaws.com"),
        (".amazonaws.com", "https://events.us-east-1.amazonaws.com"),
        ("example.com, events.us-east-1.amazonaws.com", "https://events.us-east-1.amazonaws.com"),
        ("mazonaws.com", "https://events.us-east-1.amazonaws.com"),  # a suffix, not a domain
        ("gateway:8080", "http://gateway:8080/eventbridge"),
        ("gateway:8081", "http://gateway:8080/eventbridge"),
        ("127.0.0.1", "http://127.0.0.1:4010"),
        ("127.0.0.1:4010", "http://127.0.0.1:4010"),
        ("*", "https://vpce-1.events.us-east-1.vpce.amazonaws.com"),
        ("example.com,*", "https://events.us-east-1.amazonaws.com"),  # '*' only on its own
    ],
)
def test_the_environment_is_read_exactly_as_botocore_reads_it(
    no_proxy: str | None, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)
    assert proxies_for(endpoint, None) == get_environ_proxies(endpoint)


@pytest.mark.parametrize(
    ("no_proxy", "endpoint", "bypassed"),
    [
        ("10.0.0.0/8", "https://10.1.2.3:443", True),
        ("10.0.0.0/8", "https://11.1.2.3", False),
        ("192.168.0.0/16, fd00::/8", "https://[fd00::1]:8443", True),
        ("10.0.0.0/8", "https://events.internal", False),  # names are not resolved for this
        ("not/a-network, 10.0.0.0/8", "http://10.9.9.9", True),
    ],
)
def test_cidr_entries_bypass_the_proxy_for_addresses_inside_them(
    no_proxy: str, endpoint: str, bypassed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert (proxies_for(endpoint, None) == {}) is bypassed
    assert get_environ_proxies(endpoint) != {}  # botocore itself ignores CIDR entries


def test_the_aws_proxies_setting_replaces_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    configured = {"https": "proxy.corp:8080"}
    proxies = proxies_for("https://events.eu-west-1.amazonaws.com", configured)
    assert proxies == configured
    # A proxy without a scheme is plain HTTP, as botocore writes it.
    assert proxy_url_for("https://events.eu-west-1.amazonaws.com", proxies) == (
        "http://proxy.corp:8080"
    )
    assert proxy_url_for("http://127.0.0.1:4010", proxies) is None


def test_lower_case_variables_win_as_in_urllib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://lower:1")
    proxies = proxies_for("https://events.us-east-1.amazonaws.com", None)
    assert proxy_url_for("https://events.us-east-1.amazonaws.com", proxies) == "http://lower:1"


def test_the_ca_bundle_follows_botocores_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = AioSession()
    assert ca_bundle_for(None, session) is None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/from/requests.pem")
    assert ca_bundle_for(None, AioSession()) == "/from/requests.pem"
    monkeypatch.setenv("AWS_CA_BUNDLE", "/from/aws.pem")
    assert ca_bundle_for(None, AioSession()) == "/from/aws.pem"
    assert ca_bundle_for(tmp_path / "setting.pem", AioSession()) == str(tmp_path / "setting.pem")


def test_a_missing_bundle_is_a_config_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot load the CA bundle .*missing\.pem"):
        tls_context(str(tmp_path / "missing.pem"))


@pytest.mark.parametrize(
    ("endpoint", "needed"),
    [
        (None, True),
        ("https://gw.example/x", True),
        ("HTTPS://h", True),
        ("http://127.0.0.1:4010", False),
    ],
)
def test_a_named_bundle_is_loaded_at_start_only_for_https(
    endpoint: str | None, needed: bool
) -> None:
    assert needs_tls_at_start(endpoint) is needed


def test_verification_is_always_on() -> None:
    context = tls_context(None)
    assert context.check_hostname is True
    assert context.verify_mode.name == "CERT_REQUIRED"
