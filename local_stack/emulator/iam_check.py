"""Does each function's IAM policy in template.yaml allow the AWS calls it really makes?

moto does not enforce IAM, so a missing permission would first show as AccessDenied after a deploy.
This records every call a handler makes while the local stack runs it, translates the call into the
IAM action, resource ARN and condition keys AWS would authorize, and checks them against the
function's statements, conditions included: a write of an attribute a ``dynamodb:Attributes`` list
does not name, or an email from another address than ``ses:FromAddress``, is denied here as in AWS.
"""

from __future__ import annotations

import email
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import botocore.client

from local_stack.emulator.lambda_runtime import running_function
from local_stack.emulator.patches import observing_api_calls
from local_stack.emulator.stack import ACCOUNT_ID, FunctionSpec


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
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """The condition keys the request carries, with their values; a key that is absent is not in the
    request (``...IfExists`` and ``ForAllValues`` then hold, the other operators do not)."""
    whole_item_on_condition_failure: bool = False
    """The request asks for the whole item back if its condition fails
    (``ReturnValuesOnConditionCheckFailure: ALL_OLD``)."""

    def value_of(self, key: str) -> tuple[str, ...] | None:
        return dict(self.context).get(key)


@contextmanager
def recording_aws_calls() -> Iterator[list[AwsCall]]:
    """Every call a handler makes (not the test's own calls), in order, while the block runs."""
    calls: list[AwsCall] = []

    def observe(client: botocore.client.BaseClient, operation: str, params: dict[str, Any]) -> None:
        function = running_function.get()
        if function is not None:
            service = client.meta.service_model.signing_name
            calls.append(AwsCall(function, service, operation, dict(params), client.meta.region_name))

    with observing_api_calls(observe):
        yield calls


def required_permissions(call: AwsCall) -> list[Permission]:
    """What IAM authorizes for this call, per the service authorization reference."""
    arn = f"arn:aws:{{service}}:{call.region}:{ACCOUNT_ID}:"
    params = call.params
    action = f"{call.service}:{call.operation}"
    if call.service == "dynamodb":
        table_arn = arn.format(service="dynamodb") + "table/{}"
        if call.operation == "BatchGetItem":
            return [
                Permission(action, table_arn.format(table), _context(_batch_get_attributes(request)))
                for table, request in sorted(params["RequestItems"].items())
            ]
        if call.operation == "BatchWriteItem":
            return [
                Permission(action, table_arn.format(table), _context(_batch_write_attributes(requests)))
                for table, requests in sorted(params["RequestItems"].items())
            ]
        if call.operation == "TransactWriteItems":
            # Authorized item by item, with the action of each: a Put needs dynamodb:PutItem, and so on.
            per_item = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
            per_item["ConditionCheck"] = "ConditionCheckItem"
            return sorted(
                {
                    Permission(
                        f"dynamodb:{per_item[kind]}",
                        table_arn.format(item[kind]["TableName"]),
                        _context(request_attributes(item[kind])),
                        item[kind].get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD",
                    )
                    for item in params["TransactItems"]
                    for kind in item
                },
                key=lambda permission: (permission.action, permission.resource),
            )
        return [
            Permission(
                action,
                table_arn.format(params["TableName"]),
                _context(request_attributes(params), _dynamodb_parameters(call.operation, params)),
                params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD",
            )
        ]
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
        # SES v2 SendEmail is authorized on the sending identity and on the configuration set, with
        # the From address (without its display name) as ses:FromAddress.
        raw = params["Content"]["Raw"]["Data"]
        display_name, sender = parseaddr(
            str(params.get("FromEmailAddress") or email.message_from_bytes(raw)["From"])
        )
        identity = sender.rpartition("@")[2]
        keys = {"ses:FromAddress": (sender,)}
        if display_name:
            keys["ses:FromDisplayName"] = (display_name,)
        return [
            Permission(
                "ses:SendEmail", arn.format(service="ses") + f"identity/{identity}", _context(keys=keys)
            ),
            Permission(
                "ses:SendEmail",
                arn.format(service="ses") + f"configuration-set/{params['ConfigurationSetName']}",
                _context(keys=keys),
            ),
        ]
    if call.service == "scheduler":
        schedule = arn.format(service="scheduler") + f"schedule/{params['GroupName']}/{params['Name']}"
        # Handing Scheduler a role to assume is itself authorized: iam:PassRole on that role.
        passed_to = _context(keys={"iam:PassedToService": ("scheduler.amazonaws.com",)})
        return [
            Permission(action, schedule),
            Permission("iam:PassRole", params["Target"]["RoleArn"], passed_to),
        ]
    raise NotImplementedError(f"no IAM mapping for {action}: add one to {__name__}")


def is_allowed(statements: tuple[dict[str, Any], ...], permission: Permission) -> bool:
    """An Allow statement names the action and the resource (wildcards as IAM matches them), and
    every condition of that statement holds for the request.

    One rule is stricter than IAM's documentation: a statement that restricts ``dynamodb:Attributes``
    does not allow a request that asks for the whole item back when its condition fails
    (``ReturnValuesOnConditionCheckFailure: ALL_OLD``). No condition key covers that parameter and AWS
    does not document how fine-grained access control treats it, so code under such a grant must not
    depend on it.
    """
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if (
            any(fnmatch.fnmatchcase(permission.action, a) for a in actions)
            and any(fnmatch.fnmatchcase(permission.resource, r) for r in resources)
            and conditions_hold(statement.get("Condition", {}), permission)
        ):
            return True
    return False


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], permission: Permission) -> bool:
    """Every operator's every key holds (IAM ANDs them), with the request's values of the keys."""
    for operator, keys in condition.items():
        for key, expected in keys.items():
            if not _holds(operator, permission.value_of(key), _as_list(expected)):
                return False
    restricts_attributes = any("dynamodb:Attributes" in keys for keys in condition.values())
    return not (restricts_attributes and permission.whole_item_on_condition_failure)


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda value, expected: value == expected,
    "StringLike": fnmatch.fnmatchcase,
    "ArnEquals": lambda value, expected: value == expected,
    "ArnLike": fnmatch.fnmatchcase,
}


def _holds(operator: str, values: tuple[str, ...] | None, expected: list[str]) -> bool:
    if operator == "Null":
        (absent,) = expected  # "true": the request must not carry the key; "false": it must
        return (values is None) == (absent.lower() == "true")
    qualifier, _, test = operator.rpartition(":")
    if_exists = test.endswith("IfExists")
    match = _MATCHERS.get(test.removesuffix("IfExists"))
    if match is None or qualifier not in {"", "ForAllValues", "ForAnyValue"}:
        raise NotImplementedError(f"condition operator {operator} is not evaluated by {__name__}: add it")
    if values is None:
        # A key the request does not carry: ForAllValues holds for the empty set (IAM's semantics,
        # which is why a restriction by ForAllValues must be on a key the action always carries).
        return qualifier == "ForAllValues" or (qualifier == "" and if_exists)
    if qualifier == "ForAllValues":
        return all(any(match(value, e) for e in expected) for value in values)
    if qualifier == "ForAnyValue":
        return any(match(value, e) for value in values for e in expected)
    (value,) = values  # a single-valued key
    return any(match(value, e) for e in expected)


# ---------------------------------------------------------------- DynamoDB's condition keys

# Words of the expression grammar, not attribute names (an attribute named like one needs a #name).
_KEYWORDS = frozenset({"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"})
_TOKEN = re.compile(r"#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\S")


def expression_attributes(expression: str, names: Mapping[str, str] | None = None) -> set[str]:
    """The top-level attribute names an expression reads or writes (``a.b[2]`` is ``a``; a ``#name``
    is what ``ExpressionAttributeNames`` says), as ``dynamodb:Attributes`` counts them."""
    names = names or {}
    tokens = _TOKEN.findall(expression)
    found = set()
    for index, token in enumerate(tokens):
        if not (token[0] == "#" or token[0].isalpha() or token[0] == "_"):
            continue  # a :value, a number, an operator or a bracket
        if index > 0 and tokens[index - 1] == ".":
            continue  # a key inside a map attribute
        if index + 1 < len(tokens) and tokens[index + 1] == "(":
            continue  # a function: if_not_exists, list_append, attribute_exists, size, ...
        if token[0] != "#" and token.upper() in _KEYWORDS:
            continue
        found.add(names[token] if token[0] == "#" else token)
    return found


_EXPRESSIONS = (
    "UpdateExpression",
    "ConditionExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
)


def request_attributes(params: Mapping[str, Any]) -> set[str]:
    """The attribute names a single-item request, a Query or a Scan names: its key, its item, its
    expressions (``dynamodb:Attributes``, which must therefore list the key attributes too)."""
    names: Mapping[str, str] = params.get("ExpressionAttributeNames", {})
    found = set(names.values())
    for part in ("Key", "Item", "ExclusiveStartKey", "AttributeUpdates"):
        found |= set(params.get(part, {}))
    found |= set(params.get("AttributesToGet", ()))
    for part in _EXPRESSIONS:
        if part in params:
            found |= expression_attributes(params[part], names)
    return found


def _batch_get_attributes(request: Mapping[str, Any]) -> set[str]:
    found = request_attributes(request)
    for key in request.get("Keys", ()):
        found |= set(key)
    return found


def _batch_write_attributes(requests: Iterable[Mapping[str, Any]]) -> set[str]:
    found: set[str] = set()
    for request in requests:
        for kind in request.values():
            found |= set(kind.get("Item", {})) | set(kind.get("Key", {}))
    return found


_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


def _dynamodb_parameters(operation: str, params: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``dynamodb:ReturnValues`` of a write and ``dynamodb:Select`` of a Query or Scan, which IAM
    always sees (NONE and ALL_ATTRIBUTES when the request leaves them out, per the DynamoDB developer
    guide: so a Scan restricted to SPECIFIC_ATTRIBUTES must say so, a projection alone is not enough)."""
    if operation in _WRITES:
        return {"dynamodb:ReturnValues": (str(params.get("ReturnValues", "NONE")),)}
    if operation in {"Query", "Scan"}:
        return {"dynamodb:Select": (str(params.get("Select", "ALL_ATTRIBUTES")),)}
    return {}


def _context(
    attributes: set[str] | None = None, keys: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    context = dict(keys or {})
    if attributes is not None:
        context["dynamodb:Attributes"] = tuple(sorted(attributes))
    return tuple(sorted(context.items()))


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]
