"""What a failed AWS call means for the person at the terminal: missing credentials, an
unreachable endpoint or unknown Region, throttling, access denied, each with what to do.

Shared by every command that calls AWS, so the same failure reads the same everywhere.
"""

from __future__ import annotations

import re
from functools import cache

from botocore.exceptions import (
    BotoCoreError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from publisher.errors import ConfigError

MISSING_CREDENTIALS = (
    "no AWS credentials found. They are looked for, in order, in: the environment "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), the profile (--profile, aws.profile or "
    "AWS_PROFILE, in ~/.aws/credentials and ~/.aws/config), web identity (AWS_ROLE_ARN and "
    "AWS_WEB_IDENTITY_TOKEN_FILE, as IRSA on EKS sets them), then the container or instance "
    "role. For the local emulator: AWS_ACCESS_KEY_ID=partner (the partner) or "
    "AWS_ACCESS_KEY_ID=customer (the customer), with AWS_SECRET_ACCESS_KEY=testing"
)
UNREACHABLE = "EndpointUnreachable"
_URL_IN_MESSAGE = re.compile(r'"(https?://[^"]+)"')
_REGION_IN_HOST = re.compile(
    r"^https://[a-z-]+(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com|api\.aws)"
)


class CredentialsMissing(ConfigError):
    """No AWS credentials in the default chain: a configuration problem (exit 2), not AWS's."""

    def __init__(self) -> None:
        super().__init__(MISSING_CREDENTIALS)


def network_failure(exc: BotoCoreError | OSError | TimeoutError) -> tuple[str, str]:
    """(code, message) for a call that never got an answer; missing credentials raise."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        raise CredentialsMissing() from None
    if isinstance(exc, EndpointConnectionError):
        url = str(exc.kwargs.get("endpoint_url", ""))
        return UNREACHABLE, f"could not connect to {url}"
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return "Timeout", f"no answer in time ({exc})"
    return "NetworkError", f"{type(exc).__name__}: {exc}"


@cache
def known_regions() -> frozenset[str]:
    """The Regions botocore's endpoint data lists for EventBridge (all partitions)."""
    import botocore.session  # the SDK's client stack: only when a Region is checked

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("events", partition))
    return frozenset(regions)


def unknown_region_in(message: str) -> str | None:
    """The Region of an AWS endpoint URL in `message` when AWS does not have that Region."""
    found = _URL_IN_MESSAGE.search(message) or re.search(r"(https?://\S+)", message)
    if found is None:
        return None
    region = _REGION_IN_HOST.match(found.group(1))
    if region is None or region.group(1) in known_regions():
        return None
    return region.group(1)


def unknown_regions(regions: set[str], endpoint_url: str | None) -> list[str]:
    """Regions among `regions` that AWS does not have (no check against a custom endpoint)."""
    if endpoint_url:
        return []
    return sorted(region for region in regions if region not in known_regions())


HINTS = {
    "AccessDeniedException": (
        "these credentials are not allowed to make this call: check the IAM policy of the "
        "role or user they belong to, and that they are the right account's"
    ),
    "ThrottlingException": "AWS kept throttling after several retries: try again in a minute",
    "ResourceQuotaExceededException": "an AWS quota is reached: delete unused resources or "
    "ask AWS Support for more",
    "LimitExceededException": "an AWS quota is reached: delete unused resources or ask AWS "
    "Support for more",
    "InternalServiceError": "AWS failed internally after several retries: try again later",
    "InternalServerException": "AWS failed internally after several retries: try again later",
    "InternalException": "AWS failed internally after several retries: try again later",
    UNREACHABLE: "nothing answered there after several retries: check --region, --endpoint-url "
    "(or aws.endpoint_url) and the network; for the local emulator, is it running?",
    "Timeout": "AWS did not answer in time after several retries: check the network",
    "NetworkError": "AWS could not be reached: check the Region, --endpoint-url and network",
    "UnrecognizedClientException": "AWS does not know this access key in this Region: check "
    "the credentials and --region",
    "InvalidSignatureException": "the request signature was refused: check the secret key and "
    "the machine's clock",
}


def hint(code: str, message: str) -> str | None:
    """What to do about AWS error `code`, or None when the message says it all."""
    if code == UNREACHABLE:
        region = unknown_region_in(message)
        if region is not None:
            return f"{region} is not an AWS Region (check --region or aws.region)"
    return HINTS.get(code)


def explain(code: str, message: str, operation: str = "") -> str:
    """One line for stderr: operation, AWS's code and message, and what to do about it."""
    where = f"{operation}: " if operation else ""
    advice = hint(code, message)
    return f"partner-publisher: {where}{code}: {message}" + (f" ({advice})" if advice else "")
