"""The one retry loop for control-plane calls (partner sources, the Connect kit).

botocore's retries are off everywhere in this project, so this is the only layer: every call
waits for the shared rate limiter; throttling, 5xx and network errors are retried with
full-jitter backoff (throttling also lowers the rate); anything else fails at once with AWS's
code and message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from publisher.aws.failures import network_failure
from publisher.core.decisions import is_throttling
from publisher.engine.ratelimit import AdaptiveRateLimiter

TRANSIENT_CODES = frozenset(
    {
        "InternalException",
        "InternalServiceError",
        "InternalServerException",
        "ServiceUnavailable",
        "ConcurrentModificationException",
    }
)
# Quota errors: throttling-shaped (429) but retrying cannot help.
NOT_THROTTLING = frozenset({"ResourceQuotaExceededException", "LimitExceededException"})


@dataclass(frozen=True, slots=True)
class Backoff:
    max_attempts: int = 6
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0


async def call_with_retries(
    method: Callable[..., Awaitable[dict[str, Any]]],
    limiter: AdaptiveRateLimiter,
    fail: Callable[[str, str], Exception],
    *,
    backoff: Backoff = Backoff(),
    rng: random.Random | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Call method(**params); `fail(code, message)` builds what is raised when it gives up."""
    rng = rng or random.Random()
    for attempt in range(1, backoff.max_attempts + 1):
        await limiter.acquire()
        try:
            reply = await method(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "Unknown")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            failure = fail(code, str(error.get("Message") or exc))
            throttled = is_throttling(code, status) and code not in NOT_THROTTLING
            transient = throttled or code in TRANSIENT_CODES or (status or 0) >= 500
        except (BotoCoreError, OSError, TimeoutError) as exc:
            failure = fail(*network_failure(exc))  # missing credentials raise: no retry helps
            throttled, transient = False, True
        else:
            limiter.on_success()
            return reply
        if throttled:
            limiter.on_throttled()
        if not transient or attempt == backoff.max_attempts:
            raise failure
        ceiling = min(backoff.max_delay_s, backoff.base_delay_s * 2**attempt)
        await asyncio.sleep(rng.uniform(0, ceiling))
    raise AssertionError("unreachable")
