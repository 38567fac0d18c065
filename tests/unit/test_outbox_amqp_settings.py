"""Settings of the postgres and amqp inputs: defaults, names checked, secrets redacted."""

from __future__ import annotations

import pytest

from publisher.errors import ConfigError
from publisher.inputs.outbox_sql import OutboxSql
from publisher.settings import AmqpInputSettings, PostgresInputSettings, load_settings


def test_defaults_and_environment_overrides() -> None:
    settings = load_settings(
        None,
        {
            "PUBLISHER__INPUT__KIND": "postgres",
            "PUBLISHER__INPUT__DSN": "postgresql://app:s3cret@db:5432/shop",
        },
    )
    assert isinstance(settings.input, PostgresInputSettings)
    assert settings.input.table == "partner_publisher_outbox"
    assert settings.input.dsn.get_secret_value() == "postgresql://app:s3cret@db:5432/shop"
    assert settings.redacted()["input"]["dsn"] == "postgresql://app:***@db:5432/shop"

    amqp = load_settings(None, {"PUBLISHER__INPUT__KIND": "amqp"}).input
    assert isinstance(amqp, AmqpInputSettings)
    assert (amqp.queue, amqp.prefetch, amqp.queue_type) == ("partner-events", 1000, "quorum")


def test_a_key_value_dsn_with_a_password_is_redacted_whole() -> None:
    settings = load_settings(
        None,
        {"PUBLISHER__INPUT__KIND": "postgres", "PUBLISHER__INPUT__DSN": "host=db password=x"},
    )
    assert settings.redacted()["input"]["dsn"] == "***"


@pytest.mark.parametrize("table", ["Outbox", "outbox; drop", "a.b.c", "has space", "9lives"])
def test_table_names_that_would_need_quoting_are_refused(table: str) -> None:
    env = {"PUBLISHER__INPUT__KIND": "postgres", "PUBLISHER__INPUT__TABLE": table}
    with pytest.raises(ConfigError, match=r"input\.postgres\.table"):
        load_settings(None, env)


def test_the_ddl_of_a_schema_qualified_table_names_everything_inside_that_schema() -> None:
    ddl = OutboxSql("app.outbox").ddl()
    assert "CREATE TABLE IF NOT EXISTS app.outbox (" in ddl
    assert "CREATE INDEX IF NOT EXISTS outbox_visible_idx ON app.outbox" in ddl
    assert "FUNCTION app.outbox_notify()" in ddl
    assert "pg_notify('app.outbox', '')" in ddl
