"""The label values of the Prometheus metrics, without prometheus_client: the engine uses them
at run time, and `send`, which exports no metrics, need not import the client."""

from __future__ import annotations

from publisher.core.decisions import (
    CALL_PERMANENT,
    CALL_RETRYABLE,
    ENTRY_PERMANENT,
    ENTRY_RETRYABLE,
    SOURCE_GONE_CODES,
    THROTTLING_CODES,
)

# Label values are bounded: error codes come from AWS's short list (anything else is "other"),
# reasons and outcomes from fixed lists (here and in core). No tenant ids as labels, except on
# the per-tenant gauges, which carry only the top N tenants by backlog
# (admin.tenant_metrics_top_n).
PUT_OUTCOMES = ("ok", "partial", "throttled", "retryable_error", "rejected")
INGEST_CODES = ("202", "400", "401", "404", "405", "408", "413", "415", "500", "503")
KNOWN_ERROR_CODES = (
    ENTRY_RETRYABLE
    | ENTRY_PERMANENT
    | SOURCE_GONE_CODES
    | THROTTLING_CODES
    | CALL_RETRYABLE
    | CALL_PERMANENT
)


def error_code_label(code: str) -> str:
    return code if code in KNOWN_ERROR_CODES else "other"
