"""The pipeline against an in-memory input and a scripted PutPartnerEvents client."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import structlog.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.aws.putevents import CallFailed, EntryResult
from publisher.core.admission import Admission, PendingPolicy
from publisher.core.decisions import RetryPolicy
from publisher.core.event import Event, decode_event
from publisher.core.message import Message, ValidatedMessage
from publisher.core.source_states import SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.engine import settle
from publisher.engine.deadletter import DeadLetter
from publisher.engine.pipeline import Pipeline
from publisher.engine.ratelimit import AdaptiveRateLimiter
from publisher.inputs.memory import MemoryInput
from publisher.observe.health import Health
from publisher.observe.metrics import Metrics
from publisher.settings import PublishSettings, RetrySettings, TenantSettings

SOURCE = "aws.partner/example.com/acme/orders"
TENANTS = {"acme": TenantSettings(account="111122223333", source=SOURCE)}
FAST_RETRY = RetrySettings(max_attempts=8, base_delay_ms=1, max_delay_ms=5, max_unknown_attempts=3)

Outcome = list[EntryResult] | CallFailed
Decide = Callable[[list[dict[str, Any]]], Outcome]


def ok(entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
    return [EntryResult(event_id=f"id-{key(e)}") for e in entries]


def key(entry: dict[str, Any]) -> int:
    value: int = orjson.loads(entry["Detail"])["n"]
    return value


def body(n: int, tenant: str = "acme", **extra: Any) -> bytes:
    return orjson.dumps(
        {"tenant": tenant, "detail_type": "OrderCreated", "detail": {"n": n}, **extra}
    )


@dataclass
class ScriptedClients:
    decide: Decide
    latency_s: float = 0.0
    calls: list[list[dict[str, Any]]] = field(default_factory=list)
    accepted: Counter[int] = field(default_factory=Counter)
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def get(self, region: str) -> ScriptedClients:
        return self

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        sent = list(entries)
        self.calls.append(sent)
        self.called.set()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        outcome = self.decide(sent)
        if isinstance(outcome, CallFailed):
            raise outcome
        for entry, result in zip(sent, outcome, strict=True):
            if result.error_code is None:
                self.accepted[key(entry)] += 1
        return outcome


@dataclass
class MemoryDeadLetters:
    letters: list[DeadLetter] = field(default_factory=list)
    written: asyncio.Event = field(default_factory=asyncio.Event)

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)
        self.written.set()

    async def wait_for(self, count: int) -> None:
        while len(self.letters) < count:
            self.written.clear()
            await self.written.wait()


def make_pipeline(
    input: MemoryInput,
    clients: ScriptedClients,
    dead_letters: MemoryDeadLetters,
    metrics: Metrics,
    *,
    publish: PublishSettings | None = None,
    retry: RetrySettings = FAST_RETRY,
    tenants: dict[str, TenantSettings] = TENANTS,
    states: SourceStates | None = None,
    pending: PendingPolicy = "send",
    on_settled: Callable[[int, int], None] | None = None,
    rate_rps: float = 100_000,
    health: Health | None = None,
) -> Pipeline:
    """A pipeline over test doubles, built as the builder builds it from settings."""
    publish = publish or PublishSettings(linger_ms=2)
    states = states or SourceStates()
    admission = Admission(
        TenantRegistry(tenants, "us-east-1"),
        states,
        max_request_bytes=publish.max_request_bytes,
        max_age_s=retry.max_age_s,
        pending=pending,
        hold_s=60,
    )
    return Pipeline(
        input=input,
        clients=clients,
        admission=admission,
        states=states,
        dead_letters=dead_letters,
        metrics=metrics,
        policy=RetryPolicy(retry, random.Random(7)),
        limiter=AdaptiveRateLimiter(rate_rps),
        max_entries=publish.max_entries,
        max_request_bytes=publish.max_request_bytes,
        linger_s=publish.linger_ms / 1000.0,
        max_in_flight=publish.max_in_flight,
        max_buffered_events=publish.max_buffered_events,
        on_settled=on_settled,
        health=health,
    )


@dataclass
class Run:
    queue: MemoryInput
    clients: ScriptedClients
    dead: MemoryDeadLetters
    metrics: Metrics
    published: int = 0
    dead_lettered: int = 0


async def publish(
    bodies: Sequence[bytes],
    clients: ScriptedClients,
    publish_settings: PublishSettings | None = None,
    retry: RetrySettings = FAST_RETRY,
    timeout_s: float = 20.0,
    tenants: dict[str, TenantSettings] = TENANTS,
    queue: MemoryInput | None = None,
) -> Run:
    """Feed bodies through a pipeline and return once every one of them is settled."""
    queue = queue or MemoryInput(visibility_timeout_s=30)
    run = Run(queue, clients, MemoryDeadLetters(), Metrics())
    done = asyncio.Event()

    def on_settled(published: int, dead: int) -> None:
        run.published += published
        run.dead_lettered += dead
        if run.published + run.dead_lettered >= len(bodies):
            done.set()

    pipeline = make_pipeline(
        run.queue,
        clients,
        run.dead,
        run.metrics,
        publish=publish_settings,
        retry=retry,
        tenants=tenants,
        on_settled=on_settled,
    )
    await run.queue.put(list(bodies))
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=5))
    await asyncio.wait_for(done.wait(), timeout_s)
    stop.set()
    await task
    return run


def metric(run: Run, name: str, **labels: str) -> float:
    value = run.metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0


async def test_publishes_everything_in_batches_within_limits() -> None:
    clients = ScriptedClients(ok)
    run = await publish([body(n) for n in range(205)], clients)
    assert run.published == 205
    assert sorted(clients.accepted) == list(range(205))
    assert all(1 <= len(call) <= 20 for call in clients.calls)
    assert len(clients.calls) <= 15  # mostly full batches, not one call per event
    assert await run.queue.backlog() == 0
    assert metric(run, "publisher_events_published_total") == 205
    assert metric(run, "publisher_put_requests_total", outcome="ok") == len(clients.calls)


class PreDecodedInput(MemoryInput):
    """Hands messages out as the spool hands out its own process's puts: with their events."""

    def __init__(self, events: dict[bytes, Event]) -> None:
        super().__init__(visibility_timeout_s=30)
        self.events = events

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        batch = await super().fetch(max_messages, wait_s)
        return [
            ValidatedMessage(m.id, m.body, m.enqueued_at, m.deliveries, event=self.events[m.body])
            for m in batch
        ]


async def test_an_event_validated_where_it_was_accepted_is_not_decoded_again() -> None:
    # Bodies that would not even decode: only the events handed along can be what is sent.
    events = {f"opaque-{n}".encode(): decode_event(body(n)) for n in range(45)}
    queue = PreDecodedInput(events)
    clients = ScriptedClients(ok)
    run = await publish(list(events), clients, queue=queue)
    assert run.published == 45
    assert run.dead_lettered == 0
    assert sorted(clients.accepted) == list(range(45))


async def test_batches_respect_the_byte_limit() -> None:
    big = "x" * 3000
    bodies = [
        orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": {"n": n, "pad": big}})
        for n in range(30)
    ]
    clients = ScriptedClients(ok)
    await publish(bodies, clients, PublishSettings(max_request_bytes=10_000, linger_ms=2))
    for call in clients.calls:
        size = sum(len(e["Source"]) + len(e["DetailType"]) + len(e["Detail"]) for e in call)
        assert size <= 10_000
    assert sum(len(call) for call in clients.calls) == 30


async def test_only_failed_entries_are_resent() -> None:
    failed_once: set[int] = set()

    def decide(entries: list[dict[str, Any]]) -> Outcome:
        results = []
        for entry in entries:
            n = key(entry)
            if n % 3 == 0 and n not in failed_once:
                failed_once.add(n)
                results.append(EntryResult(error_code="ThrottlingException", error_message="slow"))
            else:
                results.append(EntryResult(event_id=f"id-{n}"))
        return results

    clients = ScriptedClients(decide)
    run = await publish([body(n) for n in range(60)], clients)
    assert run.published == 60
    sends = Counter(key(entry) for call in clients.calls for entry in call)
    assert all(sends[n] == (2 if n % 3 == 0 else 1) for n in range(60))
    assert set(clients.accepted.values()) == {1}
    assert metric(run, "publisher_events_retried_total", error_code="ThrottlingException") == 20
    assert metric(run, "publisher_put_requests_total", outcome="partial") >= 1


async def test_permanent_entry_errors_are_dead_lettered_without_resending() -> None:
    def decide(entries: list[dict[str, Any]]) -> Outcome:
        return [
            EntryResult(error_code="MalformedDetail", error_message="Detail is malformed.")
            if key(e) == 4
            else EntryResult(event_id="x")
            for e in entries
        ]

    clients = ScriptedClients(decide)
    run = await publish([body(n) for n in range(10)], clients)
    assert (run.published, run.dead_lettered) == (9, 1)
    [letter] = run.dead.letters
    assert letter.reason == "rejected"
    assert letter.error_code == "MalformedDetail"
    assert orjson.loads(letter.message.body)["detail"] == {"n": 4}
    assert sum(1 for call in clients.calls for e in call if key(e) == 4) == 1


async def test_source_gone_is_dead_lettered_as_source_deleted() -> None:
    def decide(entries: list[dict[str, Any]]) -> Outcome:
        return [EntryResult(error_code="ResourceNotFoundException", error_message="gone")] * len(
            entries
        )

    run = await publish([body(n) for n in range(3)], ScriptedClients(decide))
    assert {letter.reason for letter in run.dead.letters} == {"source_deleted"}


async def test_whole_call_throttling_lowers_the_rate_and_retries() -> None:
    calls = 0

    def decide(entries: list[dict[str, Any]]) -> Outcome:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return CallFailed("ThrottlingException", "Rate exceeded", 400)
        return ok(entries)

    run = await publish([body(n) for n in range(5)], ScriptedClients(decide))
    assert run.published == 5
    assert metric(run, "publisher_put_requests_total", outcome="throttled") == 2
    assert metric(run, "publisher_send_rate_limit_rps") < 100_000


async def test_poison_entry_failing_the_whole_call_is_isolated_by_splitting() -> None:
    def decide(entries: list[dict[str, Any]]) -> Outcome:
        if any(key(e) == 13 for e in entries):
            return CallFailed(
                "ValidationException",
                "Total size of the entries in the request is over the limit.",
                400,
            )
        return ok(entries)

    clients = ScriptedClients(decide)
    run = await publish([body(n) for n in range(20)], clients)
    assert (run.published, run.dead_lettered) == (19, 1)
    [letter] = run.dead.letters
    assert letter.reason == "too_large"
    assert orjson.loads(letter.message.body)["detail"] == {"n": 13}
    assert set(clients.accepted.values()) == {1}


async def test_retryable_errors_run_out_of_attempts() -> None:
    clients = ScriptedClients(lambda entries: CallFailed("InternalException", "boom", 500))
    run = await publish([body(1)], clients, retry=FAST_RETRY.model_copy(update={"max_attempts": 3}))
    [letter] = run.dead.letters
    assert (letter.reason, letter.attempts) == ("attempts_exhausted", 3)
    assert len(clients.calls) == 3


async def test_bad_input_is_dead_lettered_with_its_reason() -> None:
    bodies = [
        b"not json",
        orjson.dumps({"tenant": "ghost", "detail_type": "T", "detail": {}}),
        orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": "a string"}),
        orjson.dumps({"tenant": "acme", "detail_type": "T", "detail": {"pad": "x" * 300_000}}),
        body(1),
    ]
    clients = ScriptedClients(ok)
    run = await publish(bodies, clients)
    reasons = sorted(letter.reason for letter in run.dead.letters)
    assert reasons == ["invalid_event", "invalid_json", "too_large", "unknown_tenant"]
    assert run.published == 1
    assert metric(run, "publisher_events_dead_lettered_total", reason="invalid_json") == 1


async def test_gauges_read_the_calls_under_way_and_the_events_held_when_scraped() -> None:
    queue = MemoryInput(visibility_timeout_s=30)
    await queue.put([body(n) for n in range(45)])
    answer = asyncio.Event()

    async def held_until_answered(entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        clients.calls.append(list(entries))
        clients.called.set()
        await answer.wait()
        return ok(entries)

    clients = ScriptedClients(ok)
    clients.put_partner_events = held_until_answered  # type: ignore[method-assign]
    metrics = Metrics()
    settled: list[int] = []
    all_settled = asyncio.Event()

    def on_settled(published: int, dead: int) -> None:
        settled.append(published + dead)
        if sum(settled) == 45:
            all_settled.set()

    pipeline = make_pipeline(
        queue,
        clients,
        MemoryDeadLetters(),
        metrics,
        publish=PublishSettings(linger_ms=1),
        on_settled=on_settled,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=5))
    while len(clients.calls) < 3:
        clients.called.clear()
        await clients.called.wait()

    def gauge(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    assert gauge("publisher_in_flight_requests") == 3
    assert gauge("publisher_buffered_events") == 45
    assert gauge("publisher_send_rate_limit_rps") == 100_000
    answer.set()
    await asyncio.wait_for(all_settled.wait(), 5)
    assert gauge("publisher_buffered_events") == 0
    assert gauge("publisher_in_flight_requests") == 0
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_shutdown_releases_unsettled_messages_back_to_the_input() -> None:
    queue = MemoryInput(visibility_timeout_s=30)
    await queue.put([body(n) for n in range(40)])
    clients = ScriptedClients(lambda entries: CallFailed("InternalException", "down", 500))
    pipeline = make_pipeline(
        queue,
        clients,
        MemoryDeadLetters(),
        Metrics(),
        publish=PublishSettings(linger_ms=1),
        retry=RetrySettings(base_delay_ms=10_000, max_delay_ms=10_000),
        rate_rps=1000,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=1))
    while len(clients.calls) < 2:
        clients.called.clear()
        await clients.called.wait()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await queue.backlog() == 40
    released = await queue.fetch(100, wait_s=0)
    assert len(released) == 40  # visible again at once, not after the 30 s lease


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    count=st.integers(1, 120),
    call_failure_rate=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_every_event_is_settled_exactly_once_whatever_the_responses(
    seed: int, count: int, call_failure_rate: float
) -> None:
    rng = random.Random(seed)
    codes = ["InternalFailure", "ThrottlingException", "MalformedDetail", "SomethingNew"]

    def decide(entries: list[dict[str, Any]]) -> Outcome:
        if rng.random() < call_failure_rate:
            return rng.choice(
                [
                    CallFailed("ThrottlingException", "slow down", 400),
                    CallFailed("ServiceUnavailable", "unavailable", 503),
                    CallFailed("NetworkError", "reset"),
                ]
            )
        return [
            EntryResult(event_id="x")
            if rng.random() < 0.7
            else EntryResult(error_code=rng.choice(codes), error_message="injected")
            for _ in entries
        ]

    clients = ScriptedClients(decide)
    run = asyncio.run(publish([body(n) for n in range(count)], clients, timeout_s=60))
    dead = Counter(orjson.loads(letter.message.body)["detail"]["n"] for letter in run.dead.letters)
    assert run.published + run.dead_lettered == count
    assert all(times == 1 for times in clients.accepted.values())
    assert all(times == 1 for times in dead.values())
    assert set(clients.accepted).isdisjoint(dead)
    assert set(clients.accepted) | set(dead) == set(range(count))
    assert all(len(call) <= 20 for call in clients.calls)


@pytest.mark.parametrize("tenant_region", ["us-east-1", "eu-west-1"])
async def test_events_go_to_their_tenants_region(tenant_region: str) -> None:
    regions: list[str] = []

    class RegionRecorder(ScriptedClients):
        async def get(self, region: str) -> ScriptedClients:
            regions.append(region)
            return self

    tenants = {"acme": TenantSettings(account="111122223333", source=SOURCE, region=tenant_region)}
    await publish([body(1)], RegionRecorder(ok), tenants=tenants)
    assert set(regions) == {tenant_region}


async def run_with_state(state: str, pending: str) -> tuple[Run, MemoryInput]:
    """Publish one event whose source is in `state` under the `pending` policy."""
    states = SourceStates()
    states.set(SOURCE, state)
    queue = MemoryInput(visibility_timeout_s=30)
    run = Run(queue, ScriptedClients(ok), MemoryDeadLetters(), Metrics())
    settled = asyncio.Event()

    def on_settled(published: int, dead: int) -> None:
        run.published += published
        run.dead_lettered += dead
        settled.set()

    pipeline = make_pipeline(
        queue,
        run.clients,
        run.dead,
        run.metrics,
        publish=PublishSettings(linger_ms=1),
        states=states,
        pending=pending,  # type: ignore[arg-type]
        on_settled=on_settled,
        rate_rps=1000,
    )
    await queue.put([body(1)])
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=1))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(settled.wait(), 1.0)
    stop.set()
    await task
    return run, queue


@pytest.mark.parametrize("state", ["DELETED", "MISSING"])
async def test_events_for_a_gone_source_are_dead_lettered_without_a_call(state: str) -> None:
    run, _ = await run_with_state(state, "send")
    assert [letter.reason for letter in run.dead.letters] == ["source_deleted"]
    assert run.clients.calls == []


async def test_pending_policy_send_sends_and_counts() -> None:
    run, _ = await run_with_state("PENDING", "send")
    assert run.published == 1
    assert metric(run, "publisher_events_sent_to_pending_total") == 1


async def test_pending_policy_dead_letter() -> None:
    run, _ = await run_with_state("PENDING", "dead_letter")
    assert [letter.reason for letter in run.dead.letters] == ["source_pending"]
    assert run.clients.calls == []


async def test_pending_policy_hold_keeps_the_event_in_the_input() -> None:
    run, queue = await run_with_state("PENDING", "hold")
    assert (run.published, run.dead_lettered, run.clients.calls) == (0, 0, [])
    assert metric(run, "publisher_events_held_total") >= 1
    assert await queue.backlog() == 1
    assert await queue.fetch(10, wait_s=0) == []  # put back with a delay, not at once


async def test_a_source_reported_gone_per_entry_stops_further_calls() -> None:
    def decide(entries: list[dict[str, Any]]) -> Outcome:
        return [
            EntryResult(error_code="ResourceNotFoundException", error_message="Event bus not found")
        ] * len(entries)

    states = SourceStates()
    clients = ScriptedClients(decide)
    run = Run(MemoryInput(), clients, MemoryDeadLetters(), Metrics())
    pipeline = make_pipeline(
        run.queue,
        clients,
        run.dead,
        run.metrics,
        publish=PublishSettings(linger_ms=1),
        states=states,
        rate_rps=1000,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=1))
    await run.queue.put([body(1)])
    await asyncio.wait_for(run.dead.wait_for(1), 5)
    assert states.state(SOURCE) == "MISSING"
    await run.queue.put([body(2)])
    await asyncio.wait_for(run.dead.wait_for(2), 5)
    stop.set()
    await task
    assert len(clients.calls) == 1  # the second event never reached AWS
    assert [letter.reason for letter in run.dead.letters] == ["source_deleted", "source_deleted"]


@pytest.fixture
def settle_logs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The log lines settlement writes (whatever logging another test configured)."""
    capture = structlog.testing.LogCapture()
    logger = structlog.wrap_logger(
        None, processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(0)
    )
    monkeypatch.setattr(settle, "log", logger)
    return capture.entries


async def test_a_dead_letter_log_line_names_the_tenant_and_the_event_id(
    settle_logs: list[dict[str, Any]],
) -> None:
    def decide(entries: list[dict[str, Any]]) -> Outcome:
        return [EntryResult(error_code="MalformedDetail", error_message="bad")] * len(entries)

    await publish([body(1, id="evt-1"), b"not json"], ScriptedClients(decide))
    lines = [line for line in settle_logs if line["event"] == "event_dead_lettered"]
    named = sorted((line["reason"], line["tenant"], line["event_id"]) for line in lines)
    assert named == [("invalid_json", None, None), ("rejected", "acme", "evt-1")]


async def test_a_failed_call_log_line_names_a_bounded_few_of_its_tenants_and_event_ids(
    settle_logs: list[dict[str, Any]],
) -> None:
    calls = 0

    def decide(entries: list[dict[str, Any]]) -> Outcome:
        nonlocal calls
        calls += 1
        return CallFailed("ServiceUnavailable", "down", 503) if calls == 1 else ok(entries)

    tenants = {
        name: TenantSettings(account="111122223333", source=f"aws.partner/example.com/{name}/x")
        for name in ("acme", "globex")
    }
    bodies = [body(n, tenant=("acme", "globex")[n % 2], id=f"e-{n}") for n in range(12)]
    publish_settings = PublishSettings(linger_ms=50, max_entries=20)
    await publish(bodies, ScriptedClients(decide), publish_settings, tenants=tenants)
    [failed] = [line for line in settle_logs if line["event"] == "put_failed"]
    assert failed["entries"] == 12
    assert sorted(failed["tenants"]) == ["acme", "globex"]
    assert failed["tenant_count"] == 2
    # A batch holds each tenant's entries in turn: acme's (even ids) first, as they came first.
    assert failed["event_ids"] == [f"e-{n}" for n in range(0, 10, 2)]


class RenewalRecorder(MemoryInput):
    """A memory input that records the pipeline's lease renewals."""

    def __init__(self, visibility_timeout_s: float) -> None:
        super().__init__(visibility_timeout_s=visibility_timeout_s)
        self.extended: list[list[str]] = []
        self.renewed = asyncio.Event()

    async def extend(self, messages: Sequence[Message]) -> None:
        self.extended.append([message.id for message in messages])
        self.renewed.set()
        await super().extend(messages)


class GatedClients(ScriptedClients):
    """Calls that do not return until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(ok)
        self.gate = asyncio.Event()

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        await self.gate.wait()
        return await super().put_partner_events(entries)


async def test_leases_are_renewed_at_the_interval_the_input_asks_for() -> None:
    queue = RenewalRecorder(visibility_timeout_s=0.3)
    assert queue.lease_renew_s == pytest.approx(0.1)
    clients = GatedClients()
    await queue.put([body(1)])
    pipeline = make_pipeline(queue, clients, MemoryDeadLetters(), Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop, grace_s=5))
    await queue.renewed.wait()  # while the call is still under way
    assert queue.extended[0] == ["1"]
    clients.gate.set()
    stop.set()
    await task
    assert len(clients.calls) == 1
    assert await queue.backlog() == 0
