"""What to do after a failure: retry after a delay, split the batch, or give up. Pure.

The classification follows docs/aws-contract.md, PutPartnerEvents: error codes. This is the
project's only retry layer: botocore's own retries are switched off for PutPartnerEvents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from publisher.core.reasons import Reason
from publisher.settings import RetrySettings

ENTRY_RETRYABLE = frozenset({"InternalFailure", "ThrottlingException"})
ENTRY_PERMANENT = frozenset(
    {
        "AccessDeniedException",
        "InvalidAccountIdException",
        "InvalidArgument",
        "MalformedDetail",
        "RedactionFailure",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
    }
)
# The partner guide's "Event Bus Not Found": the customer's side of the source is gone.
SOURCE_GONE_CODES = frozenset({"ResourceNotFoundException", "EventBusNotFound"})
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
CALL_RETRYABLE = frozenset(
    {
        "InternalException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "NetworkError",
        "Timeout",
        "MalformedResponse",
        # Credentials can be refreshed or fixed without losing the events.
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationTokenException",
    }
)
CALL_PERMANENT = frozenset(
    {"ValidationException", "AccessDeniedException", "OperationDisabledException"}
)


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Send the event again after this delay."""

    delay_s: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop trying: the event is dead-lettered for this reason."""

    reason: Reason


@dataclass(frozen=True, slots=True)
class Split:
    """Send the batch again as two halves to isolate the entry that fails the whole call."""


Decision = RetryAfter | GiveUp
CallDecision = RetryAfter | GiveUp | Split


def is_throttling(code: str, http_status: int | None = None) -> bool:
    return code in THROTTLING_CODES or http_status == 429


class RetryPolicy:
    """Exponential backoff with full jitter inside per-event attempt and age budgets."""

    def __init__(self, settings: RetrySettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()

    def backoff_s(self, attempts: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^(attempts-1))]."""
        ceiling_ms = min(
            self.settings.max_delay_ms, self.settings.base_delay_ms * 2 ** min(attempts - 1, 32)
        )
        return self._rng.uniform(0, ceiling_ms) / 1000.0

    def after_entry_error(self, code: str, attempts: int, age_s: float) -> Decision:
        """Decide for one failed entry; `attempts` counts calls made for it so far."""
        if code in SOURCE_GONE_CODES:
            return GiveUp(Reason.SOURCE_DELETED)
        if code in ENTRY_PERMANENT:
            return GiveUp(Reason.REJECTED)
        if code not in ENTRY_RETRYABLE and attempts >= self.settings.max_unknown_attempts:
            return GiveUp(Reason.UNKNOWN_ERROR)
        return self._within_budget(attempts, age_s)

    def after_call_error(
        self,
        code: str,
        http_status: int | None,
        message: str,
        attempts: int,
        age_s: float,
        batch_len: int,
    ) -> CallDecision:
        """Decide for an entry of a call that failed as a whole."""
        if code in CALL_PERMANENT:
            # Only a validation failure can come from one entry; access and disabled-operation
            # errors hold for the whole account, so splitting would just add calls.
            if batch_len > 1 and code == "ValidationException":
                return Split()
            too_large = code == "ValidationException" and "size" in message.lower()
            return GiveUp(Reason.TOO_LARGE if too_large else Reason.REJECTED)
        retryable = (
            code in CALL_RETRYABLE
            or is_throttling(code, http_status)
            or (http_status is not None and http_status >= 500)
        )
        if not retryable and attempts >= self.settings.max_unknown_attempts:
            return GiveUp(Reason.UNKNOWN_ERROR)
        return self._within_budget(attempts, age_s)

    def _within_budget(self, attempts: int, age_s: float) -> Decision:
        if attempts >= self.settings.max_attempts:
            return GiveUp(Reason.ATTEMPTS_EXHAUSTED)
        delay_s = self.backoff_s(attempts)
        if age_s + delay_s > self.settings.max_age_s:
            return GiveUp(Reason.TOO_OLD)
        return RetryAfter(delay_s)
