"""Local input checks of `connect`: every bad input exits 2 before any AWS call."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.cli import main
from publisher.connect import validation

SOURCE = "aws.partner/example.com/acme/orders"
ARN = "arn:aws:app-integrations:us-east-1:111122223333:event-integration/acme"
# An endpoint nothing listens on: a call that slipped past validation would fail with exit 1.
NOWHERE = ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--log-level", "error", "connect", *argv, *NOWHERE])
    return code, capsys.readouterr().err


EI = ["event-integration", "create", "--name", "acme", "--source", SOURCE]
ATTACH = ["profiles", "attach", "--domain", "dom", "--event-integration", ARN]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["event-integration", "create", "--name", "bad name", "--source", SOURCE], "name"),
        (["event-integration", "create", "--name", "x" * 256, "--source", SOURCE], "1 to 255"),
        ([*EI, "--bus", "bad|bus"], "EventBridge bus"),
        (["event-integration", "create", "--name", "a", "--source", "aws.partner/x"], "source"),
        ([*EI, "--description", "d" * 1001], "at most 1000"),
        ([*EI, "--tag", "aws:owner=me"], "aws:"),
        ([*EI, "--tag", "owner"], "KEY=VALUE"),
        ([*EI, "--tag", "k=" + "v" * 257], "at most 256"),
        ([*EI, *(f"--tag=k{i}=v" for i in range(201))], "at most 200 tags"),
        (["event-integration", "get", "--name", "a b"], "name"),
        (["bus", "--source", "not-a-source"], "source"),
        ([*ATTACH[:2], "--domain", "bad.domain", *ATTACH[4:], "--object-type-name", "T"], "domain"),
        ([*ATTACH, "--object-type-names", "Segment=Seg"], "not supported"),
        ([*ATTACH, "--object-type-names", "SegmentIdentify=1bad"], "must start with"),
        (ATTACH, "--object-type-names"),
        (["profiles", "get", "--domain", "d" * 65, "--uri", ARN], "domain"),
        (["workflow", "status", "--domain", "dom", "--id", "NOT-HEX"], "32 lowercase hex"),
        (["verify", "--source", "aws.partner/x"], "source"),
        (["verify", "--source", SOURCE, "--account", "123"], "12 digits"),
    ],
)
def test_bad_input_exits_2_with_the_rule(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, err = run(capsys, *argv)
    assert code == 2, err
    assert message in err


def test_bad_flow_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = ["workflow", "create", "--domain", "dom", "--object-type", "Account"]
    role = ["--role-arn", "arn:aws:iam::111122223333:role/import"]
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    assert run(capsys, *base, *role, "--flow", str(not_json))[1].count("not valid JSON") == 1
    partial = tmp_path / "partial.json"
    partial.write_text('{"FlowName": "x-flow"}')
    code, err = run(capsys, *base, *role, "--flow", str(partial))
    assert code == 2
    assert "lacks KmsArn, SourceFlowConfig, Tasks, TriggerConfig" in err
    code, err = run(capsys, *base, "--role-arn", "role/import", "--flow", str(partial))
    assert (code, "role ARN" in err) == (2, True)
    code, err = run(capsys, *base, *role, "--flow", str(tmp_path / "missing.json"))
    assert (code, "cannot read" in err) == (2, True)


def test_checks_accept_what_aws_accepts() -> None:
    validation.check_name("aws.partner/example.com-acme_orders", "name")
    validation.check_source(SOURCE)
    validation.check_tags({"team": "x", "a+b=c.d_e:f/g": "v" * 256})
    validation.check_domain("acme-profiles_1")
    validation.check_object_type_names({key: "Type_1" for key in validation.OBJECT_TYPE_KEYS})
    validation.check_role_arn("arn:aws:iam::111122223333:role/x")
    validation.check_workflow_id("0" * 32)
    assert validation.parse_pairs(["a=b=c", "d="], "--tag") == {"a": "b=c", "d": ""}
    with pytest.raises(ValueError, match="given twice"):
        validation.parse_pairs(["a=1", "a=2"], "--tag")


def test_verify_fixes_keep_the_target_options() -> None:
    import argparse

    from publisher.commands.connect import fix_options

    args = argparse.Namespace(
        endpoint_url="http://127.0.0.1:4010", config="my config.yaml", profile="acme",
        region="eu-west-1",
    )  # fmt: skip
    assert fix_options(args) == (
        " --endpoint-url http://127.0.0.1:4010 --config 'my config.yaml' --profile acme "
        "--region eu-west-1"
    )
    none = argparse.Namespace(endpoint_url=None, config=None, profile=None, region=None)
    assert fix_options(none) == ""
