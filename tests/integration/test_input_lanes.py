"""Lanes (`input.streams`, `input.queue_urls`): tenants routed to several streams or queues,
read fairly, so a flood on one lane does not stand before another lane's events. Real Redis
and moto's SQS server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from input_factories import INPUT_FACTORIES, InputOptions
from pydantic import ValidationError

from publisher.inputs.factory import build_input
from publisher.inputs.lanes import LanedInput, lane_of
from publisher.settings import RedisInputSettings, SqsInputSettings


def body(tenant: str, n: int) -> bytes:
    return orjson.dumps({"tenant": tenant, "detail_type": "T", "detail": {"n": n}})


@pytest.mark.parametrize("kind", ["redis_lanes", "sqs_lanes"])
async def test_a_flood_on_one_lane_does_not_stand_before_another_lane(
    kind: str, tmp_path: Path
) -> None:
    async with INPUT_FACTORIES[kind](InputOptions(tmp_path, visibility_timeout_s=30)) as opened:
        laned = opened.input
        assert isinstance(laned, LanedInput)
        # acme is routed to the second lane; globex goes by its hash to the first.
        assert (laned.lane_of("acme"), laned.lane_of("globex")) == (1, 0)
        await laned.put([body("acme", n) for n in range(60)])
        await laned.put([body("globex", 0)])
        first: list[bytes] = []
        while len(first) < 20:
            first += [m.body for m in await laned.fetch(20 - len(first), wait_s=2)]
        assert body("globex", 0) in first
        acme = [orjson.loads(b)["detail"]["n"] for b in first if b"acme" in b]
        assert acme == list(range(len(acme)))  # a lane keeps its own order


async def test_lane_messages_are_acked_and_released_on_their_own_lane(tmp_path: Path) -> None:
    async with INPUT_FACTORIES["redis_lanes"](
        InputOptions(tmp_path, visibility_timeout_s=30)
    ) as opened:
        laned = opened.input
        await laned.put([body("acme", 0), body("globex", 0)])
        got = await laned.fetch(10, wait_s=1)
        assert len(got) == 2
        assert sorted(m.id.split("/")[0] for m in got) == ["0", "1"]
        await laned.release([m for m in got if b"acme" in m.body])
        again = await laned.fetch(10, wait_s=1)
        assert [(m.body, m.deliveries) for m in again] == [(body("acme", 0), 2)]
        await laned.ack(again + [m for m in got if b"globex" in m.body])
        assert await laned.backlog() == 0


def test_tenants_go_by_their_route_else_by_a_stable_hash() -> None:
    names = ["a", "b", "c"]
    assert lane_of("acme", names, {"acme": "c"}) == 2
    assert lane_of("globex", names, {}) == lane_of("globex", names, {})


def test_the_factory_builds_one_input_per_lane() -> None:
    laned = build_input(RedisInputSettings(kind="redis", streams=["a", "b"], lanes={"acme": "b"}))
    assert isinstance(laned, LanedInput)
    assert laned.lane_of("acme") == 1
    queues = build_input(SqsInputSettings(kind="sqs", queue_urls=["q1", "q2"]))
    assert isinstance(queues, LanedInput)


def test_lanes_must_name_configured_streams_and_queues() -> None:
    with pytest.raises(ValidationError, match="not in streams"):
        RedisInputSettings(kind="redis", streams=["a", "b"], lanes={"acme": "c"})
    with pytest.raises(ValidationError, match="either queue_url or queue_urls"):
        SqsInputSettings(kind="sqs", queue_url="q", queue_urls=["q1"])
    ok = SqsInputSettings(kind="sqs", queue_urls=["q1", "q2"], lanes={"acme": "q2"})
    assert ok.lane_names() == ["q1", "q2"]
