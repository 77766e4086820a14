"""Where a deployed stack keeps what the export reads: its tables' names (the stack's Outputs) and
the key of the suppression list's hashes (the secret AddressHashKey). Every AWS call of the export
besides the layer's DAL reads is here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from privacy.export import HASH_KEY_LOGICAL_ID, ExportTables

TABLE_OUTPUTS = {
    "customers": "CustomersTableName",
    "deliveries": "DeliveriesTableName",
    "consent_history": "ConsentHistoryTableName",
    "suppression_list": "SuppressionListTableName",
}
"""Each table the export reads, by the name of the template's output that holds its physical name."""

# A permission missing (on the secret, or on the KMS key that encrypts it): the operator may export
# without the suppression list. Any other error is a fault to see, not to skip.
_NOT_PERMITTED = frozenset({"AccessDenied", "AccessDeniedException"})


class IncompleteStackError(LookupError):
    """The stack lacks an output the export needs (an older version of the template)."""


@dataclass(frozen=True)
class DeployedStack:
    tables: ExportTables
    hash_key: bytes | None
    """The suppression list's key; None when it could not be read."""
    hash_key_unreadable: str | None = None
    """Why it could not be read (the error AWS gave), when it could not."""


def resolve(stack_name: str, region: str | None) -> DeployedStack:
    session = boto3.session.Session(region_name=region)
    return read_stack(session.client("cloudformation"), session.client("secretsmanager"), stack_name)


def read_stack(cloudformation: Any, secretsmanager: Any, stack_name: str) -> DeployedStack:
    tables = tables_of(cloudformation, stack_name)
    try:
        key = read_hash_key(secretsmanager, hash_key_secret_id(cloudformation, stack_name))
    except ClientError as error:
        if _error_code(error) not in _NOT_PERMITTED:
            raise
        return DeployedStack(tables, None, str(error))
    return DeployedStack(tables, key)


def tables_of(cloudformation: Any, stack_name: str) -> ExportTables:
    """The tables' physical names, from the stack's Outputs (cloudformation:DescribeStacks)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = sorted(set(TABLE_OUTPUTS.values()) - set(outputs))
    if missing:
        raise IncompleteStackError(f"stack {stack_name} has no output {', '.join(missing)}")
    return ExportTables(**{field: outputs[output] for field, output in TABLE_OUTPUTS.items()})


def hash_key_secret_id(cloudformation: Any, stack_name: str) -> str:
    """The secret's ARN (its physical id), from cloudformation:DescribeStackResource: the template
    has no output for it."""
    resource = cloudformation.describe_stack_resource(
        StackName=stack_name, LogicalResourceId=HASH_KEY_LOGICAL_ID
    )["StackResourceDetail"]
    return str(resource["PhysicalResourceId"])


def read_hash_key(secretsmanager: Any, secret_id: str) -> bytes:
    """The key as the functions use it (nudge.customers.hashing.hash_key): the secret string's bytes."""
    return str(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"]).encode()


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
