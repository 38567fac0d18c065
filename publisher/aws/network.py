"""Where PutPartnerEvents connects and whom it trusts: proxies and CA bundles, as botocore decides.

Both clients take their proxies from `proxies_for`, so they always agree. The fast client
also builds its TLS context here the way aiobotocore does; the SDK client gets the same
CA bundle through botocore's own `verify`. The rules: docs/aws-contract.md, "Proxies and
trust".
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from botocore.httpsession import ProxyConfiguration, create_urllib3_context, get_cert_path
from botocore.utils import get_environ_proxies

from publisher.errors import ConfigError


def proxies_for(endpoint_url: str, configured: Mapping[str, str] | None) -> dict[str, str]:
    """The {scheme: proxy URL} map for this endpoint; empty when it is reached directly.

    `aws.proxies`, when set, replaces the environment, as botocore's Config(proxies=) does.
    Otherwise botocore's own choice: HTTP_PROXY / HTTPS_PROXY (lower case first) unless
    NO_PROXY names the host, a parent domain, host:port or `*`. botocore ignores IP ranges
    in NO_PROXY (10.0.0.0/8); curl, requests and Go honour them, and so does this, for both
    clients.
    """
    if configured is not None:
        return dict(configured)
    if _in_no_proxy_network(endpoint_url):
        return {}
    return dict(get_environ_proxies(endpoint_url))


def proxy_url_for(endpoint_url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy for this endpoint's scheme, written as botocore writes it (http:// added)."""
    proxy: str | None = ProxyConfiguration(proxies=dict(proxies)).proxy_url_for(endpoint_url)
    return proxy or None


def _in_no_proxy_network(endpoint_url: str) -> bool:
    """Whether the endpoint's host is an IP address inside a NO_PROXY network (a CIDR entry)."""
    host = urlsplit(endpoint_url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: never resolved for this, as requests and curl do not either
    for entry in getproxies().get("no", "").split(","):
        entry = entry.strip()
        if "/" not in entry:
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # not a network: urllib's suffix match already judged it
    return False


def ca_bundle_for(configured: Path | None, session: Any) -> str | None:
    """The CA bundle botocore would trust: aws.ca_bundle, AWS_CA_BUNDLE (or the profile's
    ca_bundle), then REQUESTS_CA_BUNDLE; None means botocore's default bundle."""
    if configured is not None:
        return str(configured)
    value = session.get_config_variable("ca_bundle")
    return str(value) if value else os.environ.get("REQUESTS_CA_BUNDLE") or None


def needs_tls_at_start(endpoint_url: str | None) -> bool:
    """Whether the configured endpoint is HTTPS (AWS's own are), so that a CA bundle is worth
    loading at start-up; loading one costs about 20 ms of CPU a plain-HTTP endpoint never needs."""
    return endpoint_url is None or urlsplit(endpoint_url).scheme.lower() == "https"


def check_readable(ca_bundle: str) -> None:
    """A ConfigError naming the bundle unless it can be opened (aiobotocore opens it even for
    plain HTTP, failing every call; this fails the start instead)."""
    try:
        with open(ca_bundle, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot load the CA bundle {ca_bundle}: {exc}") from None


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """aiobotocore's context: botocore's protocol and cipher settings, certificates and host
    names always verified, trusting only `ca_bundle` (or botocore's default bundle)."""
    context: ssl.SSLContext = create_urllib3_context()
    context.check_hostname = True
    path = get_cert_path(ca_bundle or True)
    try:
        context.load_verify_locations(path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the CA bundle {path}: {exc}") from None
    return context
