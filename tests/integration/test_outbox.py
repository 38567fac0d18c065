"""The PostgreSQL outbox on the local server: `outbox install`, the application helper, only
committed rows, replicas sharing a table, a dead replica's lease taken over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest
import structlog.testing
import yaml
from service_inputs import POSTGRES_DSN, drop_outbox, install_outbox, unique_name
from tcp_proxy import TcpProxy

from publisher import outbox
from publisher.cli import main
from publisher.errors import InputUnavailable
from publisher.inputs import postgres
from publisher.inputs.postgres import PostgresOutboxInput
from publisher.settings import PostgresInputSettings

EVENT = {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": 1}}


@pytest.fixture
async def table() -> AsyncIterator[str]:
    name = unique_name("test_outbox")
    await install_outbox(name)
    try:
        yield name
    finally:
        await drop_outbox(name)


def settings(table: str, **extra: object) -> PostgresInputSettings:
    return PostgresInputSettings.model_validate(
        {"kind": "postgres", "dsn": POSTGRES_DSN, "table": table, **extra}
    )


def write_config(tmp_path: Path, **source: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"input": {"kind": "postgres", "dsn": POSTGRES_DSN, **source}}))
    return path


async def test_install_creates_the_table_twice_over_and_print_writes_the_same_ddl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_name("test_outbox")
    config = str(write_config(tmp_path, table=name))
    try:
        for _ in range(2):
            assert await asyncio.to_thread(main, ["outbox", "install", "--config", config]) == 0
        assert capsys.readouterr().out.count(f"outbox table {name} is installed") == 2
        assert (
            await asyncio.to_thread(main, ["outbox", "install", "--print", "--config", config]) == 0
        )
        ddl = capsys.readouterr().out
        assert f"CREATE TABLE IF NOT EXISTS {name} (" in ddl
        async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
            await conn.execute(ddl)  # the printed DDL runs as is on an installed table, too
            await conn.execute(f"INSERT INTO {name} (event) VALUES (%s::jsonb)", ['{"a":1}'])
            row = await (await conn.execute(f"SELECT event, deliveries FROM {name}")).fetchone()
        assert row == ({"a": 1}, 0)
    finally:
        await drop_outbox(name)


async def test_install_says_why_when_the_database_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, dsn="postgresql://postgres:secret@127.0.0.1:1/nowhere")
    code = await asyncio.to_thread(main, ["outbox", "install", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 1
    assert "outbox install at postgresql://postgres:***@127.0.0.1:1/nowhere failed" in err
    assert "secret" not in err


async def test_a_rolled_back_transaction_is_never_delivered(table: str) -> None:
    source = PostgresOutboxInput(settings(table, poll_interval_s=0.1))
    await source.start()
    try:
        async with await psycopg.AsyncConnection.connect(POSTGRES_DSN) as app:
            async with app.transaction(force_rollback=True):
                await outbox.add(app, {**EVENT, "id": "rolled-back"}, table=table)
            async with app.transaction():
                await outbox.add(app, {**EVENT, "id": "committed"}, table=table)
        messages = await source.fetch(10, wait_s=2.0)
        assert [orjson.loads(m.body) for m in messages] == [{**EVENT, "id": "committed"}]
        await source.ack(messages)
        assert await source.backlog() == 0
    finally:
        await source.close()


def test_the_helper_works_on_a_sync_psycopg_connection_inside_a_transaction(table: str) -> None:
    with psycopg.connect(POSTGRES_DSN) as conn:
        with conn.transaction():
            assert outbox.add(conn, EVENT, table=table) is None
            outbox.add(conn, b'{"tenant":"acme"}', table=table)
        rows = conn.execute(f"SELECT event FROM {table} ORDER BY id").fetchall()
    assert rows == [(EVENT,), ({"tenant": "acme"},)]


async def test_the_helper_works_on_an_asyncpg_connection(table: str) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        async with conn.transaction():
            await outbox.add(conn, EVENT, table=table)
        count = await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()
    assert count == 1


def test_the_helper_refuses_a_table_name_it_would_have_to_quote() -> None:
    with pytest.raises(ValueError, match="lower-case identifier"):
        outbox.add(object(), EVENT, table="orders; DROP TABLE x")


async def test_two_replicas_never_hold_the_same_row(table: str) -> None:
    replicas = [PostgresOutboxInput(settings(table, batch_size=7)) for _ in range(2)]
    for replica in replicas:
        await replica.start()
    try:
        await replicas[0].put([f'{{"n":{n}}}'.encode() for n in range(200)])
        batches = await asyncio.gather(
            *(replica.fetch(100, wait_s=0.5) for replica in replicas for _ in range(3))
        )
        ids = [m.id for batch in batches for m in batch]
        assert len(ids) == len(set(ids)) == min(200, 6 * 7)
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_stuck_replicas_rows_are_taken_over_when_its_lease_ends(table: str) -> None:
    stuck = PostgresOutboxInput(settings(table, visibility_timeout_s=1.0, poll_interval_s=0.1))
    alive = PostgresOutboxInput(settings(table, visibility_timeout_s=1.0, poll_interval_s=0.1))
    await stuck.start()
    await alive.start()
    try:
        await stuck.put([b'{"n":1}', b'{"n":2}'])
        taken = await stuck.fetch(10, wait_s=1.0)
        assert len(taken) == 2
        leased_at = time.monotonic()

        again = await alive.fetch(10, wait_s=5.0)
        assert time.monotonic() - leased_at >= 0.9
        assert sorted((m.id, m.deliveries) for m in again) == sorted((m.id, 2) for m in taken)
        await stuck.extend(taken)  # too late: the rows are alive's now
        assert await stuck.fetch(10, wait_s=0) == []
        await stuck.ack(taken)  # a late ack still deletes: those events were published
        assert await alive.backlog() == 0
        await alive.ack(again)
    finally:
        await alive.close()
        await stuck.close()


async def test_a_password_file_overrides_the_dsn(table: str, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("not-checked-by-trust-auth\n")
    source = PostgresOutboxInput(settings(table, password_file=str(secret)))
    await source.start()
    try:
        await source.put([b'{"n":1}'])
        assert await source.backlog() == 1
    finally:
        await source.close()


async def test_bodies_jsonb_cannot_hold_are_stored_as_text_for_the_daemon_to_dead_letter(
    table: str,
) -> None:
    source = PostgresOutboxInput(settings(table))
    await source.start()
    try:
        await source.put([b"not json", b'{"tenant":"acme","detail":{"x":"\\u0000"}}', b"\xff"])
        messages = await source.fetch(10, wait_s=2.0)
        assert [orjson.loads(m.body) for m in messages] == [
            "not json",
            '{"tenant":"acme","detail":{"x":"\\u0000"}}',
            "\ufffd",
        ]
    finally:
        await source.close()


async def vacuum_count(table: str) -> int:
    async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT vacuum_count + autovacuum_count FROM pg_stat_user_tables"
                " WHERE relid = %s::regclass",
                (table,),
            )
        ).fetchone()
        return int(row[0]) if row else 0


async def test_with_a_vacuum_interval_the_input_vacuums_the_table(table: str) -> None:
    before = await vacuum_count(table)
    source = PostgresOutboxInput(settings(table, vacuum_interval_s=0.2))
    await source.start()
    try:
        await source.put([b'{"n":1}'])
        await source.ack(await source.fetch(10, wait_s=2.0))
        deadline = time.monotonic() + 10
        while await vacuum_count(table) <= before:
            assert time.monotonic() < deadline, "no VACUUM within 10 s"
            await asyncio.sleep(0.1)  # poll interval: the statistics are updated after it ran
    finally:
        await source.close()


async def test_without_one_it_warns_when_autovacuum_is_off(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
        await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    # The module's own logger, whatever logging another test configured (and cached).
    capture = structlog.testing.LogCapture()
    logger = structlog.wrap_logger(
        None, processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(0)
    )
    monkeypatch.setattr(postgres, "log", logger)
    source = PostgresOutboxInput(settings(table))
    await source.start()
    await source.close()
    warnings = [entry for entry in capture.entries if entry["event"] == "postgres_autovacuum_off"]
    assert [entry["table"] for entry in warnings] == [table]


async def listening_since(table: str, since: datetime) -> bool:
    """Whether a session that connected after `since` has run LISTEN on the table's channel."""
    async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND backend_start > %s",
                (f'LISTEN "{table}"', since),
            )
        ).fetchone()
        return bool(row and row[0])


async def test_a_lost_connection_is_unavailable_then_reconnects_and_listens_again(
    table: str,
) -> None:
    proxy = await TcpProxy(5432).start()
    dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
    source = PostgresOutboxInput(settings(table, dsn=dsn, poll_interval_s=30.0))
    await source.start()
    try:
        await source.put([b'{"n":1}'])
        assert len(await source.fetch(10, wait_s=2.0)) == 1

        cut_at = datetime.now(UTC)
        await proxy.cut(refuse=True)
        with pytest.raises(InputUnavailable, match="postgres outbox"):
            await source.backlog()
        await proxy.start()

        deadline = time.monotonic() + 10
        while True:  # the listener reconnects with a backoff of its own
            with contextlib.suppress(InputUnavailable):
                if await source.backlog() == 1:
                    break
            assert time.monotonic() < deadline, "no reconnection within 10 s"
            await asyncio.sleep(0.1)  # poll interval while reconnecting
        deadline = time.monotonic() + 10
        while not await listening_since(table, cut_at):  # the listener's own reconnection
            assert time.monotonic() < deadline, "the listener did not listen again"
            await asyncio.sleep(0.1)
        # poll_interval_s is 30 s: only a notification can make this fetch return in time.
        waiting = asyncio.create_task(source.fetch(10, wait_s=10.0))
        async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as app:
            await outbox.add(app, EVENT, table=table)
        messages = await asyncio.wait_for(waiting, 5.0)
        assert [orjson.loads(m.body) for m in messages] == [EVENT]
    finally:
        await source.close()
        await proxy.close()
