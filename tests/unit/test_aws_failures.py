"""How failed AWS calls read: missing credentials, unreachable endpoints, unknown Regions."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from publisher.aws.failures import (
    UNREACHABLE,
    CredentialsMissing,
    explain,
    network_failure,
    unknown_regions,
)


def test_missing_credentials_is_a_configuration_error_naming_the_chain() -> None:
    with pytest.raises(CredentialsMissing) as caught:
        network_failure(NoCredentialsError())
    text = str(caught.value)
    for place in ("environment", "profile", "web identity", "instance role"):
        assert place in text


def test_unknown_region_is_named_as_such() -> None:
    code, message = network_failure(
        EndpointConnectionError(endpoint_url="https://events.us-est-1.amazonaws.com/")
    )
    assert code == UNREACHABLE
    line = explain(code, message, "list_partner_event_sources")
    assert "us-est-1 is not an AWS Region" in line
    assert line.startswith("partner-publisher: list_partner_event_sources: EndpointUnreachable:")


def test_known_region_unreachable_points_at_the_network() -> None:
    code, message = network_failure(
        EndpointConnectionError(endpoint_url="https://events.eu-west-1.amazonaws.com/")
    )
    line = explain(code, message)
    assert "not an AWS Region" not in line
    assert "check --region, --endpoint-url" in line


def test_timeouts_and_aws_codes_carry_advice() -> None:
    code, _ = network_failure(ReadTimeoutError(endpoint_url="https://x"))
    assert code == "Timeout"
    assert "try again in a minute" in explain("ThrottlingException", "Rate exceeded")
    assert "IAM policy" in explain("AccessDeniedException", "User is not authorized")
    assert explain("ResourceNotFoundException", "gone") == (
        "partner-publisher: ResourceNotFoundException: gone"
    )


def test_unknown_regions_are_listed_unless_a_custom_endpoint_is_used() -> None:
    regions = {"us-east-1", "eu-west-1", "us-est-1", "eu-wset-1"}
    assert unknown_regions(regions, None) == ["eu-wset-1", "us-est-1"]
    assert unknown_regions(regions, "http://127.0.0.1:4010") == []
