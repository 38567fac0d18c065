"""Which dead-letter store and ledger a config gets, and the errors for incomplete ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from publisher.deadletters.factory import build_dead_letter_store, dead_letter_kind
from publisher.deadletters.file import FileDeadLetterStore
from publisher.deadletters.postgres import PostgresDeadLetterStore
from publisher.deadletters.redis import RedisDeadLetterStore
from publisher.deadletters.sqs import SqsDeadLetterStore
from publisher.ledger.factory import build_ledger_store, ledger_path
from publisher.ledger.redis import RedisLedger
from publisher.ledger.sqlite import SqliteLedger
from publisher.settings import Settings

REDIS = {"kind": "redis", "url": "redis://10.0.0.1:6379/2", "stream": "orders"}


def settings(**sections: Any) -> Settings:
    return Settings.model_validate(sections)


def test_a_redis_input_keeps_dead_letters_and_history_beside_its_stream() -> None:
    config = settings(input=REDIS)
    store = build_dead_letter_store(config)
    assert isinstance(store, RedisDeadLetterStore)
    assert (store.url, store.stream) == ("redis://10.0.0.1:6379/2", "orders:dead-letters")
    ledger = build_ledger_store(config)
    assert isinstance(ledger, RedisLedger)
    assert (ledger.url, ledger.prefix) == ("redis://10.0.0.1:6379/2", "orders:ledger")


def test_the_spool_keeps_a_file_and_a_ledger_beside_the_spool() -> None:
    config = settings(input={"kind": "spool", "path": "/data/x/spool.db"})
    assert dead_letter_kind(config) == "file"
    assert isinstance(build_dead_letter_store(config), FileDeadLetterStore)
    ledger = build_ledger_store(config)
    assert isinstance(ledger, SqliteLedger)
    assert ledger.path == Path("/data/x/ledger.db")


def test_an_explicit_kind_wins_over_the_inputs_default() -> None:
    config = settings(input=REDIS, dead_letter={"kind": "file", "path": "/d/dl.jsonl"})
    store = build_dead_letter_store(config)
    assert isinstance(store, FileDeadLetterStore)
    assert store.path == Path("/d/dl.jsonl")
    sqs = settings(dead_letter={"kind": "sqs", "queue_url": "https://sqs.x/1/dl"})
    assert isinstance(build_dead_letter_store(sqs), SqsDeadLetterStore)
    postgres = settings(dead_letter={"kind": "postgres", "dsn": "host=db", "table": "dl"})
    store_pg = build_dead_letter_store(postgres)
    assert isinstance(store_pg, PostgresDeadLetterStore)
    assert store_pg.table == "dl"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"kind": "sqs"}, "dead_letter.queue_url is required"),
        ({"kind": "postgres"}, "dead_letter.dsn is required"),
        ({"kind": "postgres", "dsn": "x", "table": "dl; drop"}, "String should match pattern"),
        ({"kind": "kafka"}, "Input should be"),
    ],
)
def test_an_incomplete_store_is_a_config_error(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(dead_letter=section)


def test_retention_zero_turns_the_ledger_off_and_paths_can_be_set() -> None:
    assert build_ledger_store(settings(ledger={"retention_s": 0})) is None
    assert ledger_path(settings(input={"kind": "sqs", "queue_url": "q"})) == Path("data/ledger.db")
    assert ledger_path(settings(ledger={"path": "/l.db"})) == Path("/l.db")


def test_a_dsn_is_redacted_in_the_printed_config() -> None:
    config = settings(dead_letter={"kind": "postgres", "dsn": "postgresql://u:secret@db/x"})
    assert config.redacted()["dead_letter"]["dsn"] == "postgresql://u:***@db/x"
