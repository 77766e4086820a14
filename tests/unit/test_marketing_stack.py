"""Where the marketing tools find a deployed stack's tables (its Outputs) and a trigger function's
settings (its Lambda environment), with CloudFormation and Lambda stubbed; and the template outputs
and functions they rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from marketing.__main__ import main
from marketing.samples import local_environment, trigger_function
from marketing.stack import TABLE_OUTPUTS, IncompleteStackError, function_environment, table_of
from nudge.settings import Settings
from nudge.triggers import TRIGGER_NAMES

REGION = "eu-west-1"
TEMPLATE = load_template(TEMPLATE_PATH)


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudformation", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def lambda_client() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def described(outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "nudge",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
            }
        ]
    }


def test_the_tables_are_named_by_the_stack_s_outputs(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    outputs = {
        "SegmentsTableName": "nudge-SegmentsTable-1",
        "ExperimentsTableName": "nudge-ExperimentsTable-2",
    }
    for _ in range(2):
        stubber.add_response("describe_stacks", described(outputs), {"StackName": "nudge"})

    assert table_of(client, "nudge", "segment") == "nudge-SegmentsTable-1"
    assert table_of(client, "nudge", "experiment") == "nudge-ExperimentsTable-2"


def test_a_stack_without_the_output_is_named(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", described({}), {"StackName": "nudge"})
    with pytest.raises(IncompleteStackError, match="stack nudge has no output ExperimentsTableName"):
        table_of(client, "nudge", "experiment")


def test_the_template_has_the_outputs_the_tools_read() -> None:
    assert set(TABLE_OUTPUTS.values()) <= set(TEMPLATE["Outputs"])


def test_a_trigger_function_s_settings_are_its_deployed_environment(
    cloudformation: tuple[Any, Stubber], lambda_client: tuple[Any, Stubber]
) -> None:
    cfn, cfn_stub = cloudformation
    lam, lambda_stub = lambda_client
    cfn_stub.add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "LogicalResourceId": "CartAbandonedFunction",
                "PhysicalResourceId": "nudge-CartAbandonedFunction-AbC",
                "ResourceType": "AWS::Lambda::Function",
                "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
                "ResourceStatus": "UPDATE_COMPLETE",
            }
        },
        {"StackName": "nudge", "LogicalResourceId": "CartAbandonedFunction"},
    )
    lambda_stub.add_response(
        "get_function_configuration",
        {"Environment": {"Variables": {"SEGMENTS_TABLE": "nudge-SegmentsTable-1"}}},
        {"FunctionName": "nudge-CartAbandonedFunction-AbC"},
    )

    environment = function_environment(cfn, lam, "nudge", "CartAbandonedFunction")

    assert environment == {"SEGMENTS_TABLE": "nudge-SegmentsTable-1"}


def test_a_stack_without_the_function_is_named(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_client_error(
        "describe_stack_resource",
        service_error_code="ValidationError",
        service_message="Resource CartAbandonedFunction does not exist for stack nudge",
    )
    with pytest.raises(IncompleteStackError, match="stack nudge has no resource CartAbandonedFunction"):
        function_environment(client, None, "nudge", "CartAbandonedFunction")


@pytest.mark.parametrize("trigger", sorted(TRIGGER_NAMES))
def test_every_trigger_has_a_function_whose_environment_is_a_trigger_s_settings(trigger: str) -> None:
    logical_id = trigger_function(trigger)
    assert TEMPLATE["Resources"][logical_id]["Properties"]["CodeUri"] == f"functions/{trigger}/"
    settings = Settings.from_environment(local_environment(trigger))
    assert settings.experiments_table and settings.segments_table and settings.configuration_set


@pytest.mark.parametrize("command", ["segments-load", "experiments-load"])
def test_a_load_needs_a_stack(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--file", "sample_data/segments.json"])
    assert exited.value.code == 2
    assert "the following arguments are required: --stack" in capsys.readouterr().err


def test_a_region_without_a_stack_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["send-test", "--to", "a@b.example", "--trigger", "order_placed", "--segment", "vip"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        main(
            [
                "send-test",
                *("--to", "a@b.example", "--trigger", "order_placed", "--segment", "vip", "--locale", "en"),
                *("--region", "eu-west-1"),
            ]
        )
    assert "--region is the deployed stack's: give --stack too" in capsys.readouterr().err
