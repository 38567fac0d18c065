"""The EventBridge endpoint of a Region, resolved as botocore resolves it, without an SDK client.

Building an aiobotocore client only to read `client.meta.endpoint_url` loads and parses the
whole service model and builds a client class: about a fifth of `send`'s start-up. botocore's
endpoint decision needs far less: the service's endpoint rule set, the partitions file, and a
few settings (a configured endpoint URL, FIPS, dual-stack). Those are read here from the same
session and data loader and fed to botocore's own rule-set evaluator, following the steps of
botocore's client creation (see docs/aws-contract.md, "Endpoint resolution"); the unit tests
compare the result with a real botocore client's for every Region and variant.
"""

from __future__ import annotations

from typing import Any

from botocore.configprovider import ConfiguredEndpointProvider
from botocore.endpoint_provider import EndpointProvider

SERVICE = "events"
RULESET = "endpoint-rule-set-1"


def events_endpoint(session: Any, region: str, endpoint_url: str | None = None) -> str:
    """The URL botocore would send `region`'s EventBridge calls to, for this botocore session.

    `endpoint_url` (our config's aws.endpoint_url) wins, as create_client(endpoint_url=...)
    does; then a configured endpoint (AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL, the
    profile's endpoint_url or services section) unless ignore_configured_endpoint_urls; then
    the rule set with the Region, FIPS (also from a fips- pseudo-Region) and dual-stack.
    """
    if endpoint_url:
        return endpoint_url
    configured = _configured_endpoint(session)
    if configured:
        return configured
    region, pseudo_fips = normalize_fips_region(region)
    loader = session.get_component("data_loader")
    provider = EndpointProvider(
        ruleset_data=loader.load_service_model(SERVICE, RULESET),
        partition_data=loader.load_data("partitions"),
    )
    endpoint = provider.resolve_endpoint(
        Region=region,
        UseFIPS=pseudo_fips or _flag(session, "use_fips_endpoint"),
        UseDualStack=_flag(session, "use_dualstack_endpoint"),
    )
    return str(endpoint.url)


def normalize_fips_region(region: str) -> tuple[str, bool]:
    """("us-east-1", True) for "fips-us-east-1" or "us-east-1-fips", as botocore rewrites them."""
    normalized = region.replace("fips-", "").replace("-fips", "")
    return normalized, normalized != region


def _configured_endpoint(session: Any) -> str | None:
    if _flag(session, "ignore_configured_endpoint_urls"):
        return None
    provider = ConfiguredEndpointProvider(
        full_config=session.full_config,
        scoped_config=session.get_scoped_config(),
        client_name=SERVICE,
    )
    url = provider.provide()
    return str(url) if url else None


def _flag(session: Any, name: str) -> bool:
    """A boolean session setting: True, or the string "true" in any case (botocore's reading)."""
    value = session.get_config_variable(name)
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"
