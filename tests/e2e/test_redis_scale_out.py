"""Daemons on Redis Streams and SQS as processes: scale-out, a replica killed, Redis restarted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from tests.conftest import RedisServer, emulator_process, free_port, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    emulator_events,
    enqueue,
    event_lines,
    input_config,
    kill_at_work,
    read_jsonl,
    start_replicas,
)

VISIBILITY_S = 3.0


def redis_source(server: RedisServer, consumer: str) -> dict[str, Any]:
    return {
        "kind": "redis",
        "url": server.url,
        "stream": "partner-events",
        "group": "publisher",
        "consumer": consumer,
        "visibility_timeout_s": VISIBILITY_S,
    }


def published_numbers(url: str) -> Counter[int]:
    return Counter(event["detail"]["n"] for event in emulator_events(url))


def assert_stream_settled(server: RedisServer) -> None:
    client = server.client()
    try:
        assert client.xpending("partner-events", "publisher")["pending"] == 0
        assert client.xlen("partner-events") == 0
    finally:
        client.close()


def test_three_replicas_share_a_stream_and_take_over_a_killed_ones_work(tmp_path: Path) -> None:
    total = 6000
    buffered = 100  # the killed replica's leases: the most it can have sent and not acked
    publish = {"max_in_flight": 2, "max_buffered_events": buffered, "linger_ms": 5}
    server = RedisServer().start()
    replicas: list[Daemon] = []
    try:
        with emulator_process(LENIENT, "--latency-ms", "100") as url:
            sources = [redis_source(server, f"replica-{index}") for index in range(3)]
            start_replicas(replicas, tmp_path, url, sources, publish=publish)
            summary = enqueue(replicas[0].config, event_lines(range(total)), tmp_path)
            assert summary == {"enqueued": total, "input": "redis", **summary}

            kill_at_work(
                replicas[0], "publisher_events_published_total", 15, "the first replica to publish"
            )
            client = server.client()
            orphaned = client.xpending_range(
                "partner-events", "publisher", "-", "+", 1000, "replica-0"
            )
            client.close()
            assert len(published_numbers(url)) < total, "the kill came too late to prove anything"
            assert orphaned, "the killed replica held no leases: nothing to take over"

            wait_until(
                lambda: set(published_numbers(url)) == set(range(total)),
                30,
                "every event after the takeover",
            )
            wait_until(
                lambda: server.client().xpending("partner-events", "publisher")["pending"] == 0,
                10,
                "the survivors to acknowledge everything",
            )
            published = published_numbers(url)
        assert_stream_settled(server)
        duplicates = sum(published.values()) - total
        # Only the killed replica's leased (fetched, unsettled) events can have been sent and
        # not acknowledged; its calls in flight (max_in_flight x 20) are among them.
        assert duplicates <= buffered
        assert len(orphaned) <= buffered
    finally:
        for replica in replicas:
            replica.stop()
        server.kill()


def test_the_daemon_rides_out_a_redis_restart(tmp_path: Path) -> None:
    total = 2000
    server = RedisServer(tmp_path / "redis-data").start()
    publish = {"max_in_flight": 2, "linger_ms": 5}
    try:
        with emulator_process(LENIENT, "--latency-ms", "50") as url:
            config = input_config(
                tmp_path / "daemon",
                url,
                redis_source(server, "only"),
                publish=publish,
                ingest={"enabled": False},
            )
            with daemon(config, tmp_path / "daemon.log") as proc:
                enqueue(config, event_lines(range(total)), tmp_path)
                wait_until(lambda: len(emulator_events(url)) > 200, 15, "publishing under way")
                server.kill()
                assert len(published_numbers(url)) < total, "Redis went away too late"
                wait_until(lambda: "input_unavailable" in proc.logs(), 10, "the daemon to notice")
                server.start()  # same port and AOF: nothing Redis acknowledged is lost

                wait_until(
                    lambda: set(published_numbers(url)) == set(range(total)),
                    30,
                    "every event after the restart",
                )
                assert proc.proc.poll() is None, "the daemon died with Redis"
                wait_until(
                    lambda: server.client().xlen("partner-events") == 0, 10, "acks after restart"
                )
        assert_stream_settled(server)
    finally:
        server.kill()


def test_ingest_stores_into_redis_and_the_daemon_publishes_it(tmp_path: Path) -> None:
    server = RedisServer().start()
    try:
        with emulator_process(LENIENT) as url:
            config = input_config(tmp_path, url, redis_source(server, "ingest"))
            with daemon(config) as proc:
                status, reply = proc.post(event_lines(range(40)).encode())
                assert (status, reply["accepted"]) == (202, 40)
                wait_until(lambda: set(published_numbers(url)) == set(range(40)), 15, "40 events")
                wait_until(
                    lambda: server.client().xlen("partner-events") == 0, 10, "the stream drained"
                )
        assert_stream_settled(server)
    finally:
        server.kill()


def test_a_daemon_publishes_from_sqs(tmp_path: Path) -> None:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    moto_url = f"http://127.0.0.1:{port}"
    try:
        sqs = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=moto_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        queue_url = sqs.create_queue(QueueName="partner-events")["QueueUrl"]
        source = {
            "kind": "sqs",
            "queue_url": queue_url,
            "endpoint_url": moto_url,
            "visibility_timeout_s": 5,
            "wait_time_s": 1,
        }
        with emulator_process(LENIENT) as url:
            config = input_config(tmp_path, url, source, ingest={"enabled": False})
            summary = enqueue(config, event_lines(range(30)) + "not json\n", tmp_path)
            assert summary["enqueued"] == 31
            with daemon(config) as proc:
                wait_until(lambda: set(published_numbers(url)) == set(range(30)), 15, "30 events")
                wait_until(
                    lambda: proc.metric("publisher_events_dead_lettered_total") == 1,
                    10,
                    "the line that is not JSON to be dead-lettered",
                )

                def left_in_queue() -> int:
                    attributes = sqs.get_queue_attributes(
                        QueueUrl=queue_url,
                        AttributeNames=[
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                        ],
                    )["Attributes"]
                    return sum(int(value) for value in attributes.values())

                # The dead letter is counted before its message is deleted: wait for the ack.
                wait_until(lambda: left_in_queue() == 0, 10, "every message to be acknowledged")
        records = read_jsonl(tmp_path / "dead-letters.jsonl")
        assert [(r["reason"], r["event"]) for r in records] == [("invalid_json", "not json")]
    finally:
        moto.stop()
