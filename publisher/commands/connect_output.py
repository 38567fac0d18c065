"""What only `partner-publisher connect` prints: AWS errors with a hint, and verify's checks."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from publisher.aws import failures
from publisher.connect.calls import ConnectError
from publisher.connect.verify import FAIL, Check


def explain(exc: ConnectError) -> str:
    """One line for stderr: operation, AWS's code and message, and what to do about it."""
    return failures.explain(exc.code, exc.message, exc.operation)


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
