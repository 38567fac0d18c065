"""What only `partner-publisher connect` prints: AWS errors with a hint, and verify's checks."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from publisher.connect.calls import ConnectError
from publisher.connect.verify import FAIL, Check

_HINTS = {
    "AccessDeniedException": (
        "the credentials may not call this operation: check the IAM policy of the customer's "
        "role or user (events:*, app-integrations:*, profile:* as needed)"
    ),
    "ThrottlingException": "AWS kept throttling after several retries: try again in a minute",
    "ResourceQuotaExceededException": "an AWS quota is reached: delete unused resources or "
    "ask AWS Support for more",
    "InternalServiceError": "AWS failed internally after several retries: try again later",
    "InternalServerException": "AWS failed internally after several retries: try again later",
    "NetworkError": "AWS could not be reached: check the Region, --endpoint-url and network",
    "UnrecognizedClientException": "the access key is not valid for this Region",
    "InvalidSignatureException": "the request signature was refused: check the secret key",
}


def explain(exc: ConnectError) -> str:
    """One line for stderr: operation, AWS's code and message, and what to do about it."""
    where = f"{exc.operation}: " if exc.operation else ""
    hint = _HINTS.get(exc.code)
    return f"partner-publisher: {where}{exc.code}: {exc.message}" + (f" ({hint})" if hint else "")


def emit_checks(output: str, checks: Sequence[Check]) -> None:
    ok = all(check.result != FAIL for check in checks)
    if output == "json":
        print(orjson.dumps({"ok": ok, "checks": [c.to_json() for c in checks]}).decode())
        return
    for check in checks:
        print(f"{check.result}  {check.link}: {check.detail}")
        if check.fix:
            print(f"      fix: {check.fix}")
    print(
        "chain complete" if ok else "chain incomplete: run the first fix above, then verify again"
    )
