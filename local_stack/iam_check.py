"""Does each function's IAM policy in template.yaml allow the AWS calls it really makes?

moto does not enforce IAM, so a missing permission would first show as AccessDenied after a deploy.
This records every call a handler makes while the local stack runs it, translates the call into the
IAM action and resource ARN AWS would authorize, and checks them against the function's statements.
"""

from __future__ import annotations

import email
import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from unittest import mock

import botocore.client

from local_stack.lambda_runtime import running_function
from local_stack.stack import ACCOUNT_ID, FunctionSpec


@dataclass(frozen=True)
class AwsCall:
    function: FunctionSpec
    service: str
    operation: str
    params: dict[str, Any]
    region: str


@dataclass(frozen=True)
class Permission:
    action: str
    resource: str


@contextmanager
def recording_aws_calls() -> Iterator[list[AwsCall]]:
    """Every call a handler makes (not the test's own calls), in order, while the block runs."""
    calls: list[AwsCall] = []
    original = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private to botocore

    def observe(client: botocore.client.BaseClient, operation: str, params: dict[str, Any]) -> Any:
        function = running_function.get()
        if function is not None:
            service = client.meta.service_model.signing_name
            calls.append(AwsCall(function, service, operation, dict(params), client.meta.region_name))
        return original(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", observe):
        yield calls


def required_permissions(call: AwsCall) -> list[Permission]:
    """What IAM authorizes for this call, per the service authorization reference."""
    arn = f"arn:aws:{{service}}:{call.region}:{ACCOUNT_ID}:"
    params = call.params
    action = f"{call.service}:{call.operation}"
    if call.service == "dynamodb":
        table_arn = arn.format(service="dynamodb") + "table/{}"
        if call.operation in {"BatchGetItem", "BatchWriteItem"}:
            return [Permission(action, table_arn.format(table)) for table in sorted(params["RequestItems"])]
        if call.operation == "TransactWriteItems":
            # Authorized item by item, with the action of each: a Put needs dynamodb:PutItem, and so on.
            per_item = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
            per_item["ConditionCheck"] = "ConditionCheckItem"
            return sorted(
                {
                    Permission(f"dynamodb:{per_item[kind]}", table_arn.format(item[kind]["TableName"]))
                    for item in params["TransactItems"]
                    for kind in item
                },
                key=lambda permission: (permission.action, permission.resource),
            )
        return [Permission(action, table_arn.format(params["TableName"]))]
    if call.service == "sqs":
        # SQS authorizes a batch call with its single action: SendMessageBatch needs sqs:SendMessage.
        action = action.removesuffix("Batch")
        return [Permission(action, arn.format(service="sqs") + params["QueueUrl"].rsplit("/", 1)[-1])]
    if call.service == "events":
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        return [
            Permission(
                action, bus if bus.startswith("arn:") else arn.format(service="events") + f"event-bus/{bus}"
            )
            for bus in sorted(buses)
        ]
    if call.service == "secretsmanager":
        return [Permission(action, params["SecretId"])]
    if call.service == "ses":
        # SES v2 SendEmail is authorized on the sending identity and on the configuration set.
        raw = params["Content"]["Raw"]["Data"]
        sender = parseaddr(str(email.message_from_bytes(raw)["From"]))[1]
        identity = sender.rpartition("@")[2]
        return [
            Permission("ses:SendEmail", arn.format(service="ses") + f"identity/{identity}"),
            Permission(
                "ses:SendEmail",
                arn.format(service="ses") + f"configuration-set/{params['ConfigurationSetName']}",
            ),
        ]
    if call.service == "scheduler":
        schedule = arn.format(service="scheduler") + f"schedule/{params['GroupName']}/{params['Name']}"
        # Handing Scheduler a role to assume is itself authorized: iam:PassRole on that role.
        return [Permission(action, schedule), Permission("iam:PassRole", params["Target"]["RoleArn"])]
    raise NotImplementedError(f"no IAM mapping for {action}: add one to {__name__}")


def is_allowed(statements: tuple[dict[str, Any], ...], permission: Permission) -> bool:
    """An Allow statement names the action and the resource (wildcards as IAM matches them).

    Conditions are not evaluated: the ones in template.yaml only narrow a grant the call satisfies.
    """
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if any(fnmatch.fnmatchcase(permission.action, a) for a in actions) and any(
            fnmatch.fnmatchcase(permission.resource, r) for r in resources
        ):
            return True
    return False


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]
