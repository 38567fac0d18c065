"""PutPartnerEvents: validate each entry, route it by its source's state, record what was accepted.

Per source state: ACTIVE delivers; PENDING accepts (an EventId comes back) but drops the
event, as AWS does; DELETED or missing fails the entry with
ErrorCode `ResourceNotFoundException` and ErrorMessage "Event Bus Not Found for source <name>".
AWS's partner guide names that condition "Event Bus Not Found" without giving a code; the
code chosen is the one EventBridge uses for a missing bus elsewhere, and it is permanent.
A source created by another partner account fails the entry with
`NotAuthorizedForSourceException` (docs/aws-contract.md, "Accounts"). With
`accept_unknown_sources` an unknown but well-formed source counts as ACTIVE, owned by the
default account (for tests not about sources).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from publisher.emulator.protocol import AwsError, new_ids
from publisher.emulator.sources import SourceState
from publisher.emulator.state import EmulatorState
from publisher.emulator.validation import (
    NO_COMPLETE_ENTRY_MESSAGE,
    OVER_LIMIT_MESSAGE,
    check_entry,
    entries_size,
    is_complete,
    request_entries,
)

BUS_NOT_FOUND_CODE = "ResourceNotFoundException"
NOT_AUTHORIZED_CODE = "NotAuthorizedForSourceException"
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@functools.lru_cache(maxsize=4096)
def iso_seconds(epoch_seconds: int) -> str:
    """The envelope's `time` format; cached because a batch's entries share a few seconds."""
    return time.strftime(_ISO_FORMAT, time.gmtime(epoch_seconds))


def bus_not_found_message(source: str) -> str:
    """The per-entry message for a source with no partner bus to deliver to."""
    return f"Event Bus Not Found for source {source}"


def not_authorized_message(source: str, caller: str) -> str:
    """The per-entry message for a source another partner account created."""
    return f"Account {caller} is not authorized to put events to source {source}."


def put_partner_events(state: EmulatorState, body: dict[str, Any], caller: str) -> dict[str, Any]:
    """Handle one call; whole-call problems raise AwsError, entry problems fail only that entry."""
    entries = request_entries(body)
    if entries_size(entries) >= state.options.max_request_bytes:  # AWS: "less than" the limit
        raise AwsError("ValidationException", OVER_LIMIT_MESSAGE)
    if not any(is_complete(entry) for entry in entries):
        raise AwsError("ValidationException", NO_COMPLETE_ENTRY_MESSAGE)
    received_at = time.time()
    results = [
        _settle(state, entry, event_id, received_at, caller)
        for entry, event_id in zip(entries, new_ids(len(entries)), strict=True)
    ]
    failed = sum(1 for result in results if "ErrorCode" in result)
    return {"FailedEntryCount": failed, "Entries": results}


def _settle(
    state: EmulatorState, entry: dict[str, Any], event_id: str, received_at: float, caller: str
) -> dict[str, str]:
    error, detail = check_entry(entry)
    account, delivered = "", False
    if error is None:
        error, account, delivered = _route(state, entry["Source"], caller)
    if error is None:
        error = state.faults.entry_fault()
    if error is not None:
        state.stats.entries_failed[error[0]] += 1
        return {"ErrorCode": error[0], "ErrorMessage": error[1]}
    event_time = entry.get("Time")
    record = {
        "id": event_id,
        "source": entry["Source"],
        "account": account,
        "region": state.options.region,
        "detail_type": entry["DetailType"],
        "detail": detail,
        "resources": entry.get("Resources") or [],
        "time": iso_seconds(int(event_time or received_at)),
        "received_at": received_at,
    }
    state.stats.entries_accepted += 1
    if delivered:
        state.events.delivered.append(record)
    else:
        state.stats.entries_dropped_pending += 1
        state.events.dropped.append(record)
    return {"EventId": event_id}


def _route(
    state: EmulatorState, name: str, caller: str
) -> tuple[tuple[str, str] | None, str, bool]:
    """(error, account, delivered) for an entry sent to source `name` by account `caller`."""
    source = state.sources.get(name)
    if source is None:
        if not state.options.accept_unknown_sources:
            return (BUS_NOT_FOUND_CODE, bus_not_found_message(name)), "", False
        return None, state.options.default_account, True
    if source.state is SourceState.DELETED:
        return (BUS_NOT_FOUND_CODE, bus_not_found_message(name)), "", False
    if source.partner != caller:
        return (NOT_AUTHORIZED_CODE, not_authorized_message(name, caller)), "", False
    return None, source.account, source.state is SourceState.ACTIVE
