"""Where the export finds a deployed stack's tables and the suppression list's key (CloudFormation and
Secrets Manager, stubbed), and the template's outputs it relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from privacy.__main__ import main
from privacy.export import HASH_KEY_LOGICAL_ID, ExportTables
from privacy.stack_tables import TABLE_OUTPUTS, IncompleteStackError, read_stack, tables_of

STACK = "nudge"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AddressHashKey-AbCdEf"
OUTPUTS = [
    {"OutputKey": "CustomersTableName", "OutputValue": "nudge-CustomersTable-1"},
    {"OutputKey": "DeliveriesTableName", "OutputValue": "nudge-DeliveriesTable-2"},
    {"OutputKey": "ConsentHistoryTableName", "OutputValue": "nudge-ConsentHistoryTable-3"},
    {"OutputKey": "SuppressionListTableName", "OutputValue": "nudge-SuppressionListTable-4"},
    {"OutputKey": "ProductsTableName", "OutputValue": "nudge-ProductsTable-5"},
]
TABLES = ExportTables(
    customers="nudge-CustomersTable-1",
    deliveries="nudge-DeliveriesTable-2",
    consent_history="nudge-ConsentHistoryTable-3",
    suppression_list="nudge-SuppressionListTable-4",
)


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudformation", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def secretsmanager() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def described(outputs: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": outputs,
            }
        ]
    }


def secret_resource() -> dict[str, Any]:
    return {
        "StackResourceDetail": {
            "LogicalResourceId": HASH_KEY_LOGICAL_ID,
            "PhysicalResourceId": SECRET_ARN,
            "ResourceType": "AWS::SecretsManager::Secret",
            "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
            "ResourceStatus": "CREATE_COMPLETE",
        }
    }


def test_the_tables_and_the_key_are_read_from_the_stack(
    cloudformation: tuple[Any, Stubber], secretsmanager: tuple[Any, Stubber]
) -> None:
    (cfn, cfn_stub), (secrets, secrets_stub) = cloudformation, secretsmanager
    cfn_stub.add_response("describe_stacks", described(OUTPUTS), {"StackName": STACK})
    cfn_stub.add_response(
        "describe_stack_resource",
        secret_resource(),
        {"StackName": STACK, "LogicalResourceId": HASH_KEY_LOGICAL_ID},
    )
    secrets_stub.add_response("get_secret_value", {"SecretString": "k" * 64}, {"SecretId": SECRET_ARN})

    deployed = read_stack(cfn, secrets, STACK)

    assert deployed.tables == TABLES
    assert (deployed.hash_key, deployed.hash_key_unreadable) == (b"k" * 64, None)


def test_a_key_the_operator_may_not_read_is_skipped_with_the_reason(
    cloudformation: tuple[Any, Stubber], secretsmanager: tuple[Any, Stubber]
) -> None:
    (cfn, cfn_stub), (secrets, secrets_stub) = cloudformation, secretsmanager
    cfn_stub.add_response("describe_stacks", described(OUTPUTS), {"StackName": STACK})
    cfn_stub.add_response("describe_stack_resource", secret_resource())
    secrets_stub.add_client_error(
        "get_secret_value", service_error_code="AccessDeniedException", service_message="not authorized"
    )

    deployed = read_stack(cfn, secrets, STACK)

    assert deployed.tables == TABLES and deployed.hash_key is None
    assert (
        deployed.hash_key_unreadable is not None and "AccessDeniedException" in deployed.hash_key_unreadable
    )


def test_a_stack_without_an_output_the_export_needs_is_named(cloudformation: tuple[Any, Stubber]) -> None:
    cfn, cfn_stub = cloudformation
    cfn_stub.add_response("describe_stacks", described(OUTPUTS[1:]))

    with pytest.raises(IncompleteStackError, match="has no output CustomersTableName"):
        tables_of(cfn, STACK)


def test_the_template_outputs_each_table_the_export_reads_and_the_key_s_secret() -> None:
    template = load_template(TEMPLATE_PATH)
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    for output in TABLE_OUTPUTS.values():
        assert outputs[output] == {"Ref": output.removesuffix("Name")}
    assert template["Resources"][HASH_KEY_LOGICAL_ID]["Type"] == "AWS::SecretsManager::Secret"


def test_the_command_refuses_a_region_without_a_stack(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export-customer", "--id", "cus_vip_ada", "--region", "eu-west-1"])
    assert "--region is the deployed stack's: give --stack too" in capsys.readouterr().err
