"""The retry policy: the error classification of docs/aws-contract.md, budgets and backoff."""

from __future__ import annotations

import random

import pytest

from publisher.core.decisions import GiveUp, RetryAfter, RetryPolicy, Split, is_throttling
from publisher.core.reasons import Reason
from publisher.settings import RetrySettings

SETTINGS = RetrySettings(
    max_attempts=6, base_delay_ms=100, max_delay_ms=1000, max_age_s=3600, max_unknown_attempts=3
)
SIZE_MESSAGE = "Total size of the entries in the request is over the limit."


class CeilingRandom(random.Random):
    """Always draws the top of the jitter range: the delay equals the backoff ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def policy(settings: RetrySettings = SETTINGS) -> RetryPolicy:
    return RetryPolicy(settings, random.Random(7))


def retried(decision: object) -> RetryAfter:
    assert isinstance(decision, RetryAfter), decision
    return decision


# -- per-entry codes ------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["InternalFailure", "ThrottlingException"])
def test_retryable_entry_codes_are_retried(code: str) -> None:
    for attempts in range(1, SETTINGS.max_attempts):
        delay = retried(policy().after_entry_error(code, attempts, age_s=0)).delay_s
        assert 0 <= delay <= min(1.0, 0.1 * 2 ** (attempts - 1))


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "InvalidAccountIdException",
        "InvalidArgument",
        "MalformedDetail",
        "RedactionFailure",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
    ],
)
def test_permanent_entry_codes_are_dead_lettered_at_once(code: str) -> None:
    assert policy().after_entry_error(code, 1, age_s=0) == GiveUp(Reason.REJECTED)


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "EventBusNotFound"])
def test_source_gone_codes_are_dead_lettered_as_source_deleted(code: str) -> None:
    assert policy().after_entry_error(code, 1, age_s=0) == GiveUp(Reason.SOURCE_DELETED)


def test_unknown_entry_code_is_retried_a_bounded_number_of_times() -> None:
    p = policy()
    assert isinstance(p.after_entry_error("SomethingNew", 1, age_s=0), RetryAfter)
    assert isinstance(p.after_entry_error("SomethingNew", 2, age_s=0), RetryAfter)
    assert p.after_entry_error("SomethingNew", 3, age_s=0) == GiveUp(Reason.UNKNOWN_ERROR)
    assert p.after_entry_error("SomethingNew", 4, age_s=0) == GiveUp(Reason.UNKNOWN_ERROR)


def test_known_retryable_code_is_not_cut_by_the_unknown_budget() -> None:
    p = policy()
    attempts = SETTINGS.max_unknown_attempts + 1
    assert isinstance(p.after_entry_error("ThrottlingException", attempts, age_s=0), RetryAfter)


# -- budgets --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["InternalFailure", "ThrottlingException"])
def test_attempt_budget_dead_letters_at_max_attempts(code: str) -> None:
    p = policy()
    assert isinstance(p.after_entry_error(code, SETTINGS.max_attempts - 1, age_s=0), RetryAfter)
    exhausted = GiveUp(Reason.ATTEMPTS_EXHAUSTED)
    assert p.after_entry_error(code, SETTINGS.max_attempts, age_s=0) == exhausted
    assert p.after_entry_error(code, SETTINGS.max_attempts + 5, age_s=0) == exhausted


def test_single_attempt_budget_never_retries() -> None:
    p = policy(RetrySettings(max_attempts=1))
    assert p.after_entry_error("InternalFailure", 1, 0) == GiveUp(Reason.ATTEMPTS_EXHAUSTED)


def test_age_budget_counts_the_coming_delay() -> None:
    # With the delay pinned at its ceiling (0.1 s for the first retry), an event 3599.9 s old
    # may still be retried, but not one whose age plus delay passes max_age_s (3600 s).
    p = RetryPolicy(SETTINGS, CeilingRandom())
    assert p.after_entry_error("InternalFailure", 1, age_s=3599.9) == RetryAfter(0.1)
    assert p.after_entry_error("InternalFailure", 1, age_s=3599.95) == GiveUp(Reason.TOO_OLD)
    assert p.after_entry_error("InternalFailure", 1, age_s=7200) == GiveUp(Reason.TOO_OLD)


def test_age_budget_with_zero_delay_allows_exactly_max_age() -> None:
    p = policy(RetrySettings(base_delay_ms=0, max_age_s=60))
    assert p.after_entry_error("InternalFailure", 1, age_s=60) == RetryAfter(0.0)
    assert p.after_entry_error("InternalFailure", 1, age_s=60.001) == GiveUp(Reason.TOO_OLD)


def test_attempt_budget_is_checked_before_age() -> None:
    p = policy()
    decision = p.after_entry_error("InternalFailure", SETTINGS.max_attempts, age_s=10**6)
    assert decision == GiveUp(Reason.ATTEMPTS_EXHAUSTED)


# -- whole-call errors ----------------------------------------------------------------------


def call(
    code: str,
    status: int | None = 400,
    message: str = "",
    attempts: int = 1,
    age_s: float = 0,
    batch_len: int = 1,
    p: RetryPolicy | None = None,
) -> object:
    return (p or policy()).after_call_error(code, status, message, attempts, age_s, batch_len)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InternalException", 500),
        ("ServiceUnavailable", 503),
        ("ThrottlingException", 400),
        ("ThrottlingException", None),
        ("TooManyRequestsException", 429),
        ("SomethingNew", 429),
        ("SomethingNew", 500),
        ("SomethingNew", 502),
        ("SomethingNew", 504),
        ("NetworkError", None),
        ("Timeout", None),
        ("MalformedResponse", 200),
        ("ExpiredTokenException", 400),
    ],
)
def test_retryable_call_errors_are_retried_past_the_unknown_budget(
    code: str, status: int | None
) -> None:
    # Known retryable errors use the full attempt budget, not the short one for unknown codes.
    for attempts in (1, SETTINGS.max_unknown_attempts, SETTINGS.max_attempts - 1):
        for batch_len in (1, 20):
            assert isinstance(
                call(code, status, attempts=attempts, batch_len=batch_len), RetryAfter
            )
    exhausted = GiveUp(Reason.ATTEMPTS_EXHAUSTED)
    assert call(code, status, attempts=SETTINGS.max_attempts) == exhausted


@pytest.mark.parametrize("batch_len", [2, 3, 20])
def test_validation_exception_on_a_batch_splits_it(batch_len: int) -> None:
    assert call("ValidationException", message=SIZE_MESSAGE, batch_len=batch_len) == Split()
    assert call("ValidationException", message="bad", batch_len=batch_len) == Split()


@pytest.mark.parametrize(
    "message", [SIZE_MESSAGE, "Entry SIZE is too big", "request size exceeded"]
)
def test_validation_exception_on_one_entry_with_a_size_message_is_too_large(message: str) -> None:
    assert call("ValidationException", message=message, batch_len=1) == GiveUp(Reason.TOO_LARGE)


def test_validation_exception_on_one_entry_otherwise_is_rejected() -> None:
    decision = call("ValidationException", message="1 validation error detected", batch_len=1)
    assert decision == GiveUp(Reason.REJECTED)


@pytest.mark.parametrize("code", ["AccessDeniedException", "OperationDisabledException"])
def test_permanent_call_errors_on_one_entry_are_rejected(code: str) -> None:
    # Only ValidationException can mean "too large", even when the message mentions a size.
    assert call(code, message=SIZE_MESSAGE, batch_len=1) == GiveUp(Reason.REJECTED)
    assert call(code, message="denied", batch_len=1) == GiveUp(Reason.REJECTED)


def test_permanent_call_error_is_not_retried_even_on_the_first_attempt() -> None:
    assert call("ValidationException", 400, "bad", attempts=1) == GiveUp(Reason.REJECTED)


def test_unknown_call_error_is_retried_a_bounded_number_of_times() -> None:
    assert isinstance(call("SomethingNew", 400, attempts=1), RetryAfter)
    assert isinstance(call("SomethingNew", 400, attempts=2), RetryAfter)
    assert call("SomethingNew", 400, attempts=3) == GiveUp(Reason.UNKNOWN_ERROR)
    assert call("SomethingNew", None, attempts=3) == GiveUp(Reason.UNKNOWN_ERROR)


def test_call_error_age_budget() -> None:
    p = RetryPolicy(SETTINGS, CeilingRandom())
    assert call("InternalException", 500, age_s=3599.9, p=p) == RetryAfter(0.1)
    assert call("InternalException", 500, age_s=3599.95, p=p) == GiveUp(Reason.TOO_OLD)


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
    ],
)
def test_throttling_codes(code: str) -> None:
    assert is_throttling(code)
    assert is_throttling(code, 400)


def test_throttling_by_status_429_only() -> None:
    assert is_throttling("Anything", 429)
    assert not is_throttling("Anything", 400)
    assert not is_throttling("Anything", 503)
    assert not is_throttling("InternalException", None)


# -- backoff --------------------------------------------------------------------------------


def ceiling_s(settings: RetrySettings, attempts: int) -> float:
    return min(settings.max_delay_ms, settings.base_delay_ms * 2 ** (attempts - 1)) / 1000


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_full_jitter_stays_within_its_bounds(seed: int) -> None:
    p = RetryPolicy(SETTINGS, random.Random(seed))
    for attempts in range(1, 16):
        ceiling = ceiling_s(SETTINGS, attempts)
        samples = [p.backoff_s(attempts) for _ in range(300)]
        assert all(0 <= s <= ceiling for s in samples)
        # Full jitter spreads over the whole range, not just near the top or the bottom.
        assert max(samples) > 0.9 * ceiling
        assert min(samples) < 0.1 * ceiling


def test_backoff_ceiling_doubles_then_caps() -> None:
    p = RetryPolicy(SETTINGS, CeilingRandom())
    delays = [p.backoff_s(attempts) for attempts in range(1, 9)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0])


def test_backoff_for_huge_attempt_counts_stays_capped() -> None:
    p = RetryPolicy(SETTINGS, CeilingRandom())
    assert p.backoff_s(10_000) == pytest.approx(1.0)


def test_backoff_is_reproducible_with_a_seed() -> None:
    first = [RetryPolicy(SETTINGS, random.Random(5)).backoff_s(n) for n in range(1, 10)]
    second = [RetryPolicy(SETTINGS, random.Random(5)).backoff_s(n) for n in range(1, 10)]
    assert first == second


def test_retry_delay_comes_from_the_backoff() -> None:
    p = RetryPolicy(SETTINGS, CeilingRandom())
    assert p.after_entry_error("ThrottlingException", 3, age_s=0) == RetryAfter(0.4)
    assert call("InternalException", 500, attempts=5, p=p) == RetryAfter(1.0)
