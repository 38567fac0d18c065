"""The partner-source and customer-bus operations, and the table mapping targets to handlers.

Pagination tokens are opaque (base64 of the last name returned); a token that does not
decode is a ValidationException. DeletePartnerEventSource and DeleteEventBus model no
"not found" error, so deleting what does not exist succeeds quietly. Every handler gets the
caller's account: the partner sees only the sources it created, the customer only the
sources offered to it, and what another account owns is "not found", as in AWS.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any

from publisher.emulator.partner_events import put_partner_events
from publisher.emulator.protocol import AwsError
from publisher.emulator.sources import InvalidState, PartnerSource, SourceExists, SourceNotFound
from publisher.emulator.state import EmulatorState
from publisher.emulator.validation import (
    ACCOUNT_PATTERN,
    BUS_NAME_OR_ARN_PATTERN,
    EVENT_BUS_NAME_PATTERN,
    NAME_PREFIX_PATTERN,
    SOURCE_PATTERN,
    limit_field,
    raise_if_any,
    string_field,
)

Handler = Callable[[EmulatorState, dict[str, Any], str], dict[str, Any]]
DEFAULT_PAGE_SIZE = 10


def _source_name(body: dict[str, Any], key: str, member: str, errors: list[str]) -> str:
    return string_field(body, key, member, errors, pattern=SOURCE_PATTERN, max_len=256) or ""


def _account(body: dict[str, Any], errors: list[str]) -> str:
    return (
        string_field(body, "Account", "account", errors, pattern=ACCOUNT_PATTERN, max_len=12) or ""
    )


def _name(body: dict[str, Any]) -> str:
    """The Name of a request about one source, or why it is not a valid one."""
    errors: list[str] = []
    name = _source_name(body, "Name", "name", errors)
    raise_if_any(errors)
    return name


def _name_and_account(body: dict[str, Any]) -> tuple[str, str]:
    """Name and Account of a create or delete request, or every problem with them at once."""
    errors: list[str] = []
    name, account = _source_name(body, "Name", "name", errors), _account(body, errors)
    raise_if_any(errors)
    return name, account


def _not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Event source {name} does not exist.")


def _own_source(state: EmulatorState, name: str, partner: str) -> PartnerSource:
    """A live source the calling partner account created; anyone else's is not found."""
    try:
        source = state.sources.live(name)
    except SourceNotFound:
        raise _not_found(name) from None
    if source.partner != partner:
        raise _not_found(name)
    return source


def create_partner_event_source(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """A new PENDING source for one customer account."""
    name, account = _name_and_account(body)
    try:
        state.sources.create(name, account, partner=caller)
    except SourceExists:
        raise AwsError(
            "ResourceAlreadyExistsException", f"Event source {name} already exists."
        ) from None
    return {"EventSourceArn": state.source_arn(name)}


def describe_partner_event_source(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """The partner's view of one source: ARN and name, no state."""
    name = _name(body)
    source = _own_source(state, name, caller)
    return {"Arn": state.source_arn(source.name), "Name": source.name}


def delete_partner_event_source(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """The source turns DELETED; the customer's bus can no longer receive its events."""
    name, account = _name_and_account(body)
    state.sources.delete(name, account, partner=caller)
    return {}


def _page(body: dict[str, Any], names: list[str], limit: int | None) -> tuple[int, int, str | None]:
    """(start, end, next token) of the page the request's NextToken and Limit select."""
    start = 0
    token = body.get("NextToken")
    if token is not None:
        after = _decode_token(token)
        start = next((i for i, n in enumerate(names) if n > after), len(names))
    end = min(start + (limit or DEFAULT_PAGE_SIZE), len(names))
    next_token = _encode_token(names[end - 1]) if end < len(names) else None
    return start, end, next_token


def _encode_token(last_name: str) -> str:
    return base64.urlsafe_b64encode(("v1:" + last_name).encode()).decode()


def _decode_token(token: object) -> str:
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("v1:"):
        raise AwsError("ValidationException", "The NextToken provided is not valid.")
    return text[3:]


def list_partner_event_sources(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """Live sources by name prefix, one page at a time."""
    errors: list[str] = []
    prefix = string_field(
        body, "NamePrefix", "namePrefix", errors, pattern=NAME_PREFIX_PATTERN, max_len=256
    )
    limit = limit_field(body, errors)
    raise_if_any(errors)
    sources = state.sources.with_prefix(prefix or "", partner=caller)
    start, end, next_token = _page(body, [s.name for s in sources], limit)
    result: dict[str, Any] = {
        "PartnerEventSources": [
            {"Arn": state.source_arn(s.name), "Name": s.name} for s in sources[start:end]
        ]
    }
    if next_token:
        result["NextToken"] = next_token
    return result


def list_partner_event_source_accounts(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """The account a source was offered to, with its state: the partner's only view of it."""
    errors: list[str] = []
    name = _source_name(body, "EventSourceName", "eventSourceName", errors)
    limit = limit_field(body, errors)
    raise_if_any(errors)
    source = state.sources.get(name)
    if source is None or source.partner != caller:
        raise _not_found(name)
    start, end, next_token = _page(body, [source.account], limit)
    result: dict[str, Any] = {
        "PartnerEventSourceAccounts": [
            {
                "Account": source.account,
                "CreationTime": source.created_at,
                "ExpirationTime": source.expires_at,
                "State": source.state.value,
            }
        ][start:end]
    }
    if next_token:
        result["NextToken"] = next_token
    return result


def create_event_bus(state: EmulatorState, body: dict[str, Any], caller: str) -> dict[str, Any]:
    """A partner bus (matching its source, which turns ACTIVE) or a plain custom bus."""
    errors: list[str] = []
    name = string_field(body, "Name", "name", errors, pattern=EVENT_BUS_NAME_PATTERN, max_len=256)
    name = name or ""  # a missing Name is already among the errors
    source_name = string_field(
        body, "EventSourceName", "eventSourceName", errors, required=False,
        pattern=SOURCE_PATTERN, max_len=256,
    )  # fmt: skip
    raise_if_any(errors)
    if source_name is None:
        return {"EventBusArn": _create_custom_bus(state, name, caller)}
    if name != source_name:
        raise AwsError(
            "ValidationException",
            "Event bus name must match the event source name for a partner event bus.",
        )
    try:
        source = state.sources.create_bus(name, caller)
    except SourceNotFound:
        # Only the account the source was offered to can see it (and so create its bus).
        raise _not_found_for(name, caller) from None
    except SourceExists:
        raise AwsError(
            "ResourceAlreadyExistsException", f"Event bus {name} already exists."
        ) from None
    return {"EventBusArn": state.bus_arn(source.account, name)}


def _not_found_for(name: str, account: str) -> AwsError:
    return AwsError(
        "ResourceNotFoundException",
        f"Event source {name} does not exist for account {account}: a partner event source "
        "can only be associated from the account it was created for.",
    )


def _create_custom_bus(state: EmulatorState, name: str, account: str) -> str:
    if "/" in name or name == "default":
        raise AwsError(
            "ValidationException", f"Event bus name {name} is not valid for a custom event bus."
        )
    arn = state.bus_arn(account, name)
    if arn in state.custom_buses:
        raise AwsError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
    state.custom_buses[arn] = time.time()
    return arn


def delete_event_bus(state: EmulatorState, body: dict[str, Any], caller: str) -> dict[str, Any]:
    """Remove a bus; a partner bus's source returns to PENDING."""
    errors: list[str] = []
    name = string_field(body, "Name", "name", errors, pattern=EVENT_BUS_NAME_PATTERN, max_len=256)
    raise_if_any(errors)
    if name is not None and not state.sources.delete_bus(name, caller):
        state.custom_buses.pop(state.bus_arn(caller, name), None)
    return {}


def describe_event_bus(state: EmulatorState, body: dict[str, Any], caller: str) -> dict[str, Any]:
    """A partner bus, a custom bus or `default` of the caller's account, by name or ARN."""
    errors: list[str] = []
    name = string_field(
        body, "Name", "name", errors, required=False, pattern=BUS_NAME_OR_ARN_PATTERN,
        max_len=1600,
    )  # fmt: skip
    raise_if_any(errors)
    name, account = _bus_name_and_account(state, name or "default", caller)
    created = _bus_created_at(state, name, account)
    if created is None:
        raise AwsError("ResourceNotFoundException", f"Event bus {name} does not exist.")
    return {"Name": name, "Arn": state.bus_arn(account, name), "CreationTime": created,
            "LastModifiedTime": created}  # fmt: skip


def _bus_name_and_account(state: EmulatorState, name_or_arn: str, caller: str) -> tuple[str, str]:
    """(name, account) from a bus name (the caller's) or a bus ARN (its own account)."""
    if not name_or_arn.startswith("arn:"):
        return name_or_arn, caller
    arn_prefix, _, name = name_or_arn.partition(":event-bus/")
    return name, arn_prefix.rsplit(":", 1)[-1]


def _bus_created_at(state: EmulatorState, name: str, account: str) -> float | None:
    source = state.sources.get(name)
    if source is not None and source.has_bus and source.account == account:
        return source.bus_created_at
    if name == "default":
        return state.started_at
    return state.custom_buses.get(state.bus_arn(account, name))


def _set_active(
    state: EmulatorState, body: dict[str, Any], caller: str, active: bool
) -> dict[str, Any]:
    name = _name(body)
    try:
        state.sources.set_active(name, caller, active)
    except SourceNotFound:
        raise _not_found(name) from None
    except InvalidState:
        raise AwsError("InvalidStateException", f"Event source {name} is deleted.") from None
    return {}


def activate_event_source(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """The customer reactivates a source: ACTIVE."""
    return _set_active(state, body, caller, True)


def deactivate_event_source(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """The customer pauses a source: PENDING, events dropped."""
    return _set_active(state, body, caller, False)


def describe_event_source(
    state: EmulatorState, body: dict[str, Any], caller: str
) -> dict[str, Any]:
    """The customer's view of a source, with its state."""
    name = _name(body)
    try:
        source = state.sources.offered_to(name, caller)
    except SourceNotFound:
        raise _not_found(name) from None
    return _describe(state, source)


def _describe(state: EmulatorState, source: PartnerSource) -> dict[str, Any]:
    return {
        "Arn": state.source_arn(source.name),
        "CreatedBy": source.created_by,
        "CreationTime": source.created_at,
        "ExpirationTime": source.expires_at,
        "Name": source.name,
        "State": source.state.value,
    }


OPERATIONS: dict[str, Handler] = {
    "PutPartnerEvents": put_partner_events,
    "CreatePartnerEventSource": create_partner_event_source,
    "DescribePartnerEventSource": describe_partner_event_source,
    "DeletePartnerEventSource": delete_partner_event_source,
    "ListPartnerEventSources": list_partner_event_sources,
    "ListPartnerEventSourceAccounts": list_partner_event_source_accounts,
    "CreateEventBus": create_event_bus,
    "DeleteEventBus": delete_event_bus,
    "DescribeEventBus": describe_event_bus,
    "ActivateEventSource": activate_event_source,
    "DeactivateEventSource": deactivate_event_source,
    "DescribeEventSource": describe_event_source,
}
