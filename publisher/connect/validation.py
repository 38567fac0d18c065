"""Local checks of the AppIntegrations and Customer Profiles input rules, before any call.

Each check raises ValueError with a message that names the field and the rule, so the CLI can
refuse bad input with exit status 2 instead of spending a call on a certain 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from publisher.core.event import is_valid_account, is_valid_source

NAME_RE = re.compile(r"[a-zA-Z0-9/._-]{1,255}")
DOMAIN_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TYPE_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z_0-9-]{0,254}")
ROLE_ARN_RE = re.compile(r"arn:aws:iam:.*:[0-9]+:.*")
FLOW_NAME_RE = re.compile(r"[a-zA-Z0-9][\w!@#.-]+")
TAG_KEY_RE = re.compile(r"(?!aws:)[a-zA-Z+-=._:/]{1,128}")
WORKFLOW_ID_RE = re.compile(r"[a-f0-9]{32}")
MAX_DESCRIPTION = 1000
MAX_TAG_VALUE = 256
MAX_EVENT_INTEGRATION_TAGS = 200
MAX_PROFILES_TAGS = 50
# The ObjectTypeNames keys (docs/aws-contract.md, Amazon Connect Customer Profiles); the
# emulator accepts the same ones.
OBJECT_TYPE_KEYS = (
    "SegmentIdentify",
    "ShopifyCreateCustomers",
    "ShopifyUpdateCustomers",
    "ShopifyCreateDraftOrders",
    "ShopifyUpdateDraftOrders",
    "ShopifyCreateOrders",
    "ShopifyUpdatedOrders",
)
FLOW_REQUIRED = ("FlowName", "KmsArn", "SourceFlowConfig", "Tasks", "TriggerConfig")


def check_name(value: str, what: str) -> None:
    """An event integration name or EventBridge bus: 1..255 of [a-zA-Z0-9/._-]."""
    if NAME_RE.fullmatch(value) is None:
        raise ValueError(f"{what} {value!r} must be 1 to 255 characters of a-z A-Z 0-9 / . _ -")


def check_source(value: str) -> None:
    if not is_valid_source(value):
        raise ValueError(
            f"source {value!r} must be a partner event source name "
            "aws.partner/<partner>/<namespace>/<name>"
        )


def check_account(value: str) -> None:
    if not is_valid_account(value):
        raise ValueError(f"account {value!r} must be 12 digits")


def check_description(value: str | None) -> None:
    if value is not None and len(value) > MAX_DESCRIPTION:
        raise ValueError(f"description must be at most {MAX_DESCRIPTION} characters")


def check_tags(tags: Mapping[str, str], maximum: int = MAX_EVENT_INTEGRATION_TAGS) -> None:
    if len(tags) > maximum:
        raise ValueError(f"at most {maximum} tags are allowed, got {len(tags)}")
    for key, value in tags.items():
        if TAG_KEY_RE.fullmatch(key) is None:
            raise ValueError(
                f"tag key {key!r} must be 1 to 128 of letters + - = . _ : / "
                "and must not start with aws:"
            )
        if len(value) > MAX_TAG_VALUE:
            raise ValueError(f"tag {key!r}: value must be at most {MAX_TAG_VALUE} characters")


def check_domain(value: str) -> None:
    if DOMAIN_RE.fullmatch(value) is None:
        raise ValueError(f"domain {value!r} must be 1 to 64 characters of a-z A-Z 0-9 _ -")


def check_object_type_name(value: str, what: str = "object type name") -> None:
    if TYPE_NAME_RE.fullmatch(value) is None:
        raise ValueError(
            f"{what} {value!r} must start with a letter or _ and continue with letters, "
            "digits, _ or - (at most 255)"
        )


def check_object_type_names(names: Mapping[str, str]) -> None:
    for key, value in names.items():
        if key not in OBJECT_TYPE_KEYS:
            raise ValueError(
                f"object type names key {key!r} is not supported; use one of "
                + ", ".join(OBJECT_TYPE_KEYS)
            )
        check_object_type_name(value, f"object type name for {key}")


def check_uri(value: str) -> None:
    if not 1 <= len(value) <= 255:
        raise ValueError("uri must be 1 to 255 characters")


def check_role_arn(value: str) -> None:
    if len(value) > 512 or ROLE_ARN_RE.fullmatch(value) is None:
        raise ValueError(f"role ARN {value!r} must look like arn:aws:iam::<account>:role/<name>")


def check_workflow_id(value: str) -> None:
    if WORKFLOW_ID_RE.fullmatch(value) is None:
        raise ValueError(f"workflow id {value!r} must be 32 lowercase hex characters")


def check_flow_definition(flow: object) -> dict[str, object]:
    """The FlowDefinition object of a --flow file, with its required members."""
    if not isinstance(flow, dict):
        raise ValueError("the flow file must hold a JSON object (the FlowDefinition)")
    missing = [key for key in FLOW_REQUIRED if key not in flow]
    if missing:
        raise ValueError("the flow definition lacks " + ", ".join(missing))
    name = flow["FlowName"]
    if not isinstance(name, str) or len(name) > 256 or FLOW_NAME_RE.fullmatch(name) is None:
        raise ValueError(f"FlowName {name!r} must match {FLOW_NAME_RE.pattern} (at most 256)")
    return flow


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    """`K=V` command-line pairs as a dict; a pair without `=` or a repeated key is an error."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {pair!r} must look like KEY=VALUE")
        if key in result:
            raise ValueError(f"{what} key {key!r} is given twice")
        result[key] = value
    return result
