"""Why an event was dead-lettered: the `reason` of a dead letter and of its metric label."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """A bounded set, so that it can be a metric label."""

    INVALID_JSON = "invalid_json"
    INVALID_EVENT = "invalid_event"
    UNKNOWN_TENANT = "unknown_tenant"
    TOO_LARGE = "too_large"
    REJECTED = "rejected"
    SOURCE_DELETED = "source_deleted"
    SOURCE_PENDING = "source_pending"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    TOO_OLD = "too_old"
    UNKNOWN_ERROR = "unknown_error"
