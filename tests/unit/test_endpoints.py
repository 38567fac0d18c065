"""events_endpoint() gives the URL a botocore client would use, for every Region and variant."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointVariantError
from botocore.session import Session

from publisher.aws.endpoints import events_endpoint, normalize_fips_region

ENDPOINT_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CONFIG_FILE",
    "AWS_PROFILE",
)

DUALSTACK_REFUSED = {"eu-isoe-west-1", "us-isof-east-1", "us-isof-south-1"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ENDPOINT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def botocore_url(session: Session, region: str) -> str:
    """Where a botocore client sends PutPartnerEvents: its rule-set resolver's answer per call
    (client.meta.endpoint_url is the older endpoints.json resolver's guess, not always used)."""
    client = session.create_client("events", region_name=region)
    operation = client.meta.service_model.operation_model("PutPartnerEvents")
    return str(client._ruleset_resolver.construct_endpoint(operation, {}, {}).url)


def every_region() -> list[str]:
    """Every Region of every partition botocore knows, plus each partition's unknown Region."""
    partitions = Session().get_component("data_loader").load_data("partitions")["partitions"]
    regions = [name for partition in partitions for name in partition["regions"]]
    return [*regions, "xx-unknown-1", "us-gov-new-9", "cn-new-9", "eusc-de-new-1"]


@pytest.mark.parametrize("dualstack", [False, True])
@pytest.mark.parametrize("fips", [False, True])
def test_every_region_and_variant_resolves_to_botocores_url(fips: bool, dualstack: bool) -> None:
    session = Session()
    session.set_config_variable("use_fips_endpoint", fips)
    session.set_config_variable("use_dualstack_endpoint", dualstack)
    differences = {}
    for region in every_region():
        try:
            expected = botocore_url(session, region)
        except EndpointVariantError:
            # botocore refuses dual-stack clients in three isolated Regions whose old endpoint
            # data has no such variant; the rule set still names a host there.
            assert dualstack
            assert region in DUALSTACK_REFUSED
            continue
        ours = events_endpoint(session, region)
        if ours != expected:
            differences[region] = (ours, expected)
    assert differences == {}


@pytest.mark.parametrize("region", ["fips-us-gov-west-1", "us-east-1-fips", "fips-ca-central-1"])
def test_fips_pseudo_regions_are_rewritten_as_botocore_does(region: str) -> None:
    session = Session()
    assert events_endpoint(session, region) == botocore_url(session, region)
    assert normalize_fips_region(region)[1] is True


def test_fips_and_dual_stack_from_the_environment_are_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "TRUE")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    session = Session()
    url = events_endpoint(session, "us-west-2")
    assert url == "https://events-fips.us-west-2.api.aws"
    assert url == botocore_url(session, "us-west-2")


def test_configured_endpoint_urls_win_unless_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:4566")
    session = Session()
    assert events_endpoint(session, "eu-west-1") == "http://127.0.0.1:4566"
    assert botocore_url(session, "eu-west-1") == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    ignoring = Session()
    assert events_endpoint(ignoring, "eu-west-1") == "https://events.eu-west-1.amazonaws.com"
    assert botocore_url(ignoring, "eu-west-1") == "https://events.eu-west-1.amazonaws.com"


def test_the_config_files_endpoint_url_wins_over_the_rule_set() -> None:
    session = Session()
    assert events_endpoint(session, "eu-west-1", "http://127.0.0.1:9") == "http://127.0.0.1:9"
