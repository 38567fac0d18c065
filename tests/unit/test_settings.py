"""Configuration: the YAML file, PUBLISHER__SECTION__KEY overrides, validation, redaction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from publisher.errors import ConfigError
from publisher.settings import RedisInputSettings, Settings, SqsInputSettings, load_settings

REPO = Path(__file__).resolve().parents[2]
ACME_SOURCE = "aws.partner/example.com/acme/orders"
TENANT_YAML = f'tenants:\n  acme: {{account: "111122223333", source: {ACME_SOURCE}}}\n'


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "publisher.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str = "", **env: str) -> Settings:
    return load_settings(config(tmp_path, text), env)


def config_error(tmp_path: Path, text: str = "", **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, **env)
    return str(caught.value)


# -- files ----------------------------------------------------------------------------------


def test_values_come_from_the_yaml_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "aws: {region: eu-west-1, endpoint_url: 'http://127.0.0.1:4010'}\n"
        "publish: {max_entries: 10, linger_ms: 5}\n"
        "retry: {max_attempts: 4}\n"
        "dead_letter: {path: /var/lib/dl.jsonl}\n" + TENANT_YAML,
    )
    assert settings.aws.region == "eu-west-1"
    assert settings.aws.endpoint_url == "http://127.0.0.1:4010"
    assert settings.publish.max_entries == 10
    assert settings.publish.linger_ms == 5
    assert settings.publish.max_request_bytes == 262_144  # untouched keys keep defaults
    assert settings.retry.max_attempts == 4
    assert settings.dead_letter.path == Path("/var/lib/dl.jsonl")
    assert settings.tenants["acme"].account == "111122223333"
    assert settings.tenants["acme"].source == ACME_SOURCE
    assert settings.tenants["acme"].region is None


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, {})
    assert settings.aws.region == "us-east-1"
    assert settings.aws.endpoint_url is None
    assert settings.input.kind == "spool"
    assert settings.ingest.host == "127.0.0.1"
    assert settings.ingest.port == 8088
    assert settings.ingest.token is None
    assert settings.admin.port == 9464
    assert settings.publish.max_entries == 20
    assert settings.publish.max_request_bytes == 262_144
    assert settings.publish.rate_limit_rps == 1400
    assert settings.publish.rate_limit_window_s == 2.5
    assert settings.retry.max_attempts == 12
    assert settings.retry.max_age_s == 86_400
    assert settings.tenants == {}


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "") == load_settings(None, {})
    assert load(tmp_path, "# only a comment\n") == load_settings(None, {})


def test_path_from_publisher_config_variable(tmp_path: Path) -> None:
    path = config(tmp_path, "aws: {region: ap-south-1}\n")
    assert load_settings(None, {"PUBLISHER_CONFIG": str(path)}).aws.region == "ap-south-1"


def test_explicit_path_wins_over_publisher_config(tmp_path: Path) -> None:
    path = config(tmp_path, "aws: {region: ap-south-1}\n")
    env = {"PUBLISHER_CONFIG": str(tmp_path / "missing.yaml")}
    assert load_settings(path, env).aws.region == "ap-south-1"


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, "aws: {region: [unclosed\n")
    assert "is not valid YAML" in message


def test_bad_yaml_is_reported_with_the_line_and_a_caret_at_the_column(tmp_path: Path) -> None:
    message = config_error(tmp_path, "publish:\n  linger_ms: 20\n  max_entries: [20\n")
    assert message.endswith(
        "expected ',' or ']', but got '<stream end>'\n"
        '  in "<unicode string>", line 4, column 1:\n'
        "    \n"
        "    ^"
    )
    message = config_error(tmp_path, "aws: region: x\n")
    assert "mapping values are not allowed here" in message
    assert "    aws: region: x\n               ^" in message


def test_yaml_values_are_those_of_the_safe_loader(tmp_path: Path) -> None:
    text = (
        "aws: {region: eu-west-1, endpoint_url: 'http://127.0.0.1:4010'}\n"
        "publish: {linger_ms: 2.5e1, max_entries: 0x10, max_in_flight: !!int '8'}\n"
        "ingest: {enabled: off, token: ~}\n"
        "tenants_file: tenants.yaml\n" + TENANT_YAML
    )
    settings = load(tmp_path, text)
    assert settings.aws.endpoint_url == "http://127.0.0.1:4010"
    assert (settings.publish.linger_ms, settings.publish.max_entries) == (25.0, 16)
    assert settings.publish.max_in_flight == 8
    assert settings.ingest.enabled is False
    assert settings.ingest.token is None
    assert settings.tenants["acme"].account == "111122223333"


@pytest.mark.parametrize("text", ["- aws\n- publish\n", "just a string\n", "42\n"])
def test_non_mapping_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    assert "must be a mapping of sections" in config_error(tmp_path, text)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path / "missing.yaml", {})


def test_directory_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path, {})


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = config(tmp_path, "aws: {region: eu-west-1}\n")
    path.chmod(0)
    try:
        with pytest.raises(ConfigError, match="cannot read config"):
            load_settings(path, {})
    finally:
        path.chmod(0o600)


def test_unknown_section_and_key_are_rejected(tmp_path: Path) -> None:
    assert "bogus" in config_error(tmp_path, "bogus: {a: 1}\n")
    assert "publish.max_entrie" in config_error(tmp_path, "publish: {max_entrie: 5}\n")


def test_repo_reference_config_loads() -> None:
    settings = load_settings(REPO / "config" / "local.yaml", {})
    assert settings.aws.endpoint_url == "http://127.0.0.1:4010"
    assert settings.input.path == Path("data/spool.db")
    assert settings.ingest.token is None
    assert settings.publish.max_entries == 20
    assert settings.publish.max_request_bytes == 262_144
    assert settings.dead_letter.path == Path("data/dead-letters.jsonl")
    assert settings.tenants["acme"].account == "111122223333"
    assert settings.tenants["acme"].source == ACME_SOURCE
    assert settings.admin.ui is True  # the quick start shows the console


# -- environment overrides ------------------------------------------------------------------


def test_env_overrides_an_int(tmp_path: Path) -> None:
    settings = load(tmp_path, "publish: {max_entries: 10}\n", PUBLISHER__PUBLISH__MAX_ENTRIES="5")
    assert settings.publish.max_entries == 5


def test_env_overrides_a_float_and_a_bool(tmp_path: Path) -> None:
    settings = load(
        tmp_path, "", PUBLISHER__PUBLISH__LINGER_MS="2.5", PUBLISHER__INGEST__ENABLED="false"
    )
    assert settings.publish.linger_ms == 2.5
    assert settings.ingest.enabled is False


@pytest.mark.parametrize("raw", ["null", "~", ""])
def test_env_null_clears_a_value(tmp_path: Path, raw: str) -> None:
    text = "aws: {endpoint_url: 'http://127.0.0.1:4010'}\n"
    assert load(tmp_path, text, PUBLISHER__AWS__ENDPOINT_URL=raw).aws.endpoint_url is None


def test_env_overrides_strings(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "aws: {region: us-east-1}\n",
        PUBLISHER__AWS__REGION="eu-central-1",
        PUBLISHER__AWS__ENDPOINT_URL="http://127.0.0.1:4566/x?y=1",
    )
    assert settings.aws.region == "eu-central-1"
    assert settings.aws.endpoint_url == "http://127.0.0.1:4566/x?y=1"


def test_env_value_that_is_not_yaml_is_kept_as_text(tmp_path: Path) -> None:
    settings = load(tmp_path, "", PUBLISHER__AWS__PROFILE="team: {prod")
    assert settings.aws.profile == "team: {prod"


def test_env_creates_a_missing_section(tmp_path: Path) -> None:
    assert load(tmp_path, "", PUBLISHER__RETRY__MAX_ATTEMPTS="3").retry.max_attempts == 3


def test_env_sets_a_nested_tenant_key(tmp_path: Path) -> None:
    settings = load(tmp_path, TENANT_YAML, PUBLISHER__TENANTS__ACME__REGION="eu-west-1")
    assert settings.tenants["acme"].region == "eu-west-1"
    assert settings.tenants["acme"].account == "111122223333"


def test_env_can_add_a_whole_tenant(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "",
        PUBLISHER__TENANTS__GLOBEX__ACCOUNT='"444455556666"',
        PUBLISHER__TENANTS__GLOBEX__SOURCE="aws.partner/example.com/globex/orders",
    )
    assert settings.tenants["globex"].account == "444455556666"


def test_env_overrides_an_account_with_plain_digits(tmp_path: Path) -> None:
    settings = load(tmp_path, TENANT_YAML, PUBLISHER__TENANTS__ACME__ACCOUNT="444455556666")
    assert settings.tenants["acme"].account == "444455556666"


def test_env_sets_an_all_digit_token(tmp_path: Path) -> None:
    settings = load(tmp_path, "", PUBLISHER__INGEST__TOKEN="123456")
    assert settings.ingest.token is not None
    assert settings.ingest.token.get_secret_value() == "123456"


def test_other_environment_variables_are_ignored(tmp_path: Path) -> None:
    settings = load(tmp_path, "", PUBLISHERX__AWS__REGION="x", HOME="/root", PUBLISHER_Y="1")
    assert settings.aws.region == "us-east-1"


@pytest.mark.parametrize(
    ("name", "raw", "key"),
    [
        ("PUBLISHER__PUBLISH__MAX_ENTRIES", "abc", "publish.max_entries"),
        ("PUBLISHER__PUBLISH__MAX_ENTRIES", "0", "publish.max_entries"),
        ("PUBLISHER__PUBLISH__LINGER_MS", "-1", "publish.linger_ms"),
        ("PUBLISHER__INGEST__PORT", "70000", "ingest.port"),
        ("PUBLISHER__INGEST__ENABLED", "maybe", "ingest.enabled"),
        ("PUBLISHER__RETRY__MAX_ATTEMPTS", "[1, 2]", "retry.max_attempts"),
        ("PUBLISHER__PUBLISH__BOGUS", "1", "publish.bogus"),
        ("PUBLISHER__AWS", "5", "aws"),
    ],
)
def test_invalid_env_values_name_the_key(tmp_path: Path, name: str, raw: str, key: str) -> None:
    message = config_error(tmp_path, "", **{name: raw})
    assert f"  {key}:" in message
    assert f"(set by the environment variable {name}, not the file)" in message
    assert message.startswith("the environment overrides of the config are invalid:")
    assert "publisher.yaml" not in message


def test_file_errors_still_name_the_file(tmp_path: Path) -> None:
    message = config_error(tmp_path, "publish: {linger_ms: -1}\n", PUBLISHER__INGEST__PORT="70000")
    assert message.startswith(f"config {tmp_path / 'publisher.yaml'} is invalid:")
    assert "  publish.linger_ms:" in message
    assert "set by the environment variable PUBLISHER__INGEST__PORT" in message
    linger = next(line for line in message.splitlines() if "linger_ms" in line)
    assert "environment variable" not in linger


def test_env_below_a_scalar_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, "aws: {region: us-east-1}\n", PUBLISHER__AWS__REGION__NAME="x")
    assert "PUBLISHER__AWS__REGION__NAME" in message
    assert "not a section" in message


def test_env_without_a_key_is_a_config_error(tmp_path: Path) -> None:
    assert "PUBLISHER__" in config_error(tmp_path, "", PUBLISHER__="x")


# -- rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "example.com"])
def test_non_loopback_ingest_requires_a_token(tmp_path: Path, host: str) -> None:
    message = config_error(tmp_path, f"ingest: {{host: '{host}'}}\n")
    assert "ingest.token is required" in message
    settings = load(tmp_path, f"ingest: {{host: '{host}', token: s3cret}}\n")
    assert settings.ingest.token is not None
    assert settings.ingest.token.get_secret_value() == "s3cret"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_ingest_needs_no_token(tmp_path: Path, host: str) -> None:
    assert load(tmp_path, f"ingest: {{host: '{host}'}}\n").ingest.host == host


def test_disabled_ingest_needs_no_token(tmp_path: Path) -> None:
    assert load(tmp_path, "ingest: {host: 0.0.0.0, enabled: false}\n").ingest.enabled is False


@pytest.mark.parametrize("account", ["1234", "1111222233334", "11112222333a", ""])
def test_tenant_with_a_bad_account_is_rejected(tmp_path: Path, account: str) -> None:
    text = f'tenants:\n  acme: {{account: "{account}", source: {ACME_SOURCE}}}\n'
    message = config_error(tmp_path, text)
    assert "tenants.acme" in message
    assert "12 digits" in message


@pytest.mark.parametrize(
    "source",
    [
        "aws.partner/example.com",
        "example.com/acme/orders",
        "aws.partner/example.com/acme orders",
        "aws.partner/x/" + "s" * 243,
    ],
)
def test_tenant_with_a_bad_source_is_rejected(tmp_path: Path, source: str) -> None:
    text = f'tenants:\n  acme: {{account: "111122223333", source: "{source}"}}\n'
    message = config_error(tmp_path, text)
    assert "tenants.acme" in message
    assert "aws.partner/<partner>/<name>" in message


def test_tenant_without_a_source_is_rejected(tmp_path: Path) -> None:
    message = config_error(tmp_path, 'tenants:\n  acme: {account: "111122223333"}\n')
    assert "tenants.acme.source" in message


def test_max_entries_is_bounded_by_aws(tmp_path: Path) -> None:
    assert load(tmp_path, "publish: {max_entries: 20}\n").publish.max_entries == 20
    assert "publish.max_entries" in config_error(tmp_path, "publish: {max_entries: 21}\n")


def test_max_request_bytes_is_bounded_by_aws(tmp_path: Path) -> None:
    settings = load(tmp_path, "publish: {max_request_bytes: 1048576}\n")
    assert settings.publish.max_request_bytes == 1_048_576
    message = config_error(tmp_path, "publish: {max_request_bytes: 1048577}\n")
    assert "publish.max_request_bytes" in message


def test_error_message_names_the_file(tmp_path: Path) -> None:
    message = config_error(tmp_path, "publish: {max_entries: 21}\n")
    assert str(tmp_path / "publisher.yaml") in message


# -- redaction ------------------------------------------------------------------------------


def test_redacted_hides_the_token(tmp_path: Path) -> None:
    settings = load(tmp_path, "ingest: {host: 0.0.0.0, token: very-secret-token}\n")
    data = settings.redacted()
    assert data["ingest"]["token"] == "***"
    assert "very-secret-token" not in repr(data)
    assert "very-secret-token" not in repr(settings)
    assert data["ingest"]["host"] == "0.0.0.0"
    assert data["publish"]["max_entries"] == 20


def test_redacted_keeps_a_missing_token_missing() -> None:
    assert load_settings(None, {}).redacted()["ingest"]["token"] is None


def test_the_console_is_off_and_the_admin_port_open_by_default() -> None:
    admin = Settings().admin
    assert (admin.ui, admin.token, admin.metrics_requires_token) == (False, None, False)


def test_list_defaults_are_not_shared_between_settings() -> None:
    first = RedisInputSettings(kind="redis")
    second = SqsInputSettings(kind="sqs", queue_url="https://sqs.example/q")
    assert first.streams == []
    assert second.queue_urls == []
    assert first.streams is not RedisInputSettings(kind="redis").streams
    assert second.queue_urls is not SqsInputSettings(kind="sqs", queue_url="q").queue_urls
