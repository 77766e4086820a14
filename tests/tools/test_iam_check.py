"""The IAM check the least-privilege tests rely on: which attribute names a DynamoDB request names,
and how a statement's conditions are evaluated (as IAM does, or stricter, never looser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_stack.emulator.iam_check import (
    AwsCall,
    Permission,
    conditions_hold,
    expression_attributes,
    is_allowed,
    required_permissions,
)
from local_stack.emulator.stack import FunctionSpec

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Customers"
FUNCTION = FunctionSpec(
    logical_id="F",
    name="f",
    code_dir=Path(),
    handler="app.lambda_handler",
    timeout_seconds=3,
    memory_mb=128,
    environment={},
    sqs_sources=(),
)


def call(service: str, operation: str, **params: Any) -> AwsCall:
    return AwsCall(FUNCTION, service, operation, params, "eu-west-1")


def restricted(attributes: list[str]) -> dict[str, Any]:
    """A statement granting UpdateItem on the table for these attributes only, as template.yaml does."""
    return {
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem"],
        "Resource": TABLE_ARN,
        "Condition": {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
            "StringEquals": {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]},
        },
    }


def test_an_expression_names_its_top_level_attributes_not_its_functions_values_or_keywords() -> None:
    update = "SET a = if_not_exists(a, :v), b.c[2] = :x, list = list_append(:l, #n) ADD #n :one REMOVE d[0]"
    assert expression_attributes(update, {"#n": "counter"}) == {"a", "b", "list", "counter", "d"}
    condition = "attribute_exists(customer_id) AND (attribute_not_exists(last) OR last < :at)"
    assert expression_attributes(condition) == {"customer_id", "last"}
    assert expression_attributes("set x = :v delete s :old") == {"x", "s"}
    assert expression_attributes("size(recent_skus) = :n AND NOT contains(ids, :id)") == {
        "recent_skus",
        "ids",
    }


def test_an_update_names_its_key_its_expressions_and_what_it_returns() -> None:
    # Given an update of one attribute, conditional on the item existing
    update = call(
        "dynamodb",
        "UpdateItem",
        TableName="Customers",
        Key={"customer_id": {"S": "c1"}},
        UpdateExpression="SET #a = :v",
        ConditionExpression="attribute_exists(customer_id)",
        ExpressionAttributeNames={"#a": "suppressed_at"},
        ExpressionAttributeValues={":v": {"S": "2026-01-01"}},
    )
    # Then IAM sees the key attribute among dynamodb:Attributes, and ReturnValues NONE (its default)
    (permission,) = required_permissions(update)
    assert permission.action == "dynamodb:UpdateItem" and permission.resource == TABLE_ARN
    assert permission.value_of("dynamodb:Attributes") == ("customer_id", "suppressed_at")
    assert permission.value_of("dynamodb:ReturnValues") == ("NONE",)
    assert not permission.whole_item_on_condition_failure


def test_a_scan_without_select_is_seen_as_reading_all_attributes_whatever_its_projection() -> None:
    scan = {
        "TableName": "Customers",
        "ProjectionExpression": "customer_id, #o",
        "ExpressionAttributeNames": {"#o": "o"},
    }
    (implicit,) = required_permissions(call("dynamodb", "Scan", **scan))
    (explicit,) = required_permissions(call("dynamodb", "Scan", Select="SPECIFIC_ATTRIBUTES", **scan))
    assert implicit.value_of("dynamodb:Select") == ("ALL_ATTRIBUTES",)
    assert explicit.value_of("dynamodb:Select") == ("SPECIFIC_ATTRIBUTES",)
    assert explicit.value_of("dynamodb:Attributes") == ("customer_id", "o")


def test_an_attribute_list_allows_exactly_the_writes_within_it() -> None:
    statements = (restricted(["customer_id", "suppressed_at", "suppressed_reason"]),)

    def update(expression: str, **more: Any) -> Permission:
        (permission,) = required_permissions(
            call(
                "dynamodb",
                "UpdateItem",
                TableName="Customers",
                Key={"customer_id": {"S": "c"}},
                UpdateExpression=expression,
                **more,
            )
        )
        return permission

    assert is_allowed(statements, update("SET suppressed_at = :a, suppressed_reason = :r"))
    # One attribute more, a read of the whole item back, or its key left out of the list: denied
    assert not is_allowed(statements, update("SET suppressed_at = :a, marketing_consent = :f"))
    assert not is_allowed(statements, update("SET suppressed_at = :a", ReturnValues="ALL_NEW"))
    assert not is_allowed(
        statements, update("SET suppressed_at = :a", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    )
    assert not is_allowed((restricted(["suppressed_at"]),), update("SET suppressed_at = :a"))
    assert is_allowed(statements, update("SET suppressed_at = :a", ReturnValues="UPDATED_NEW"))


def test_conditions_are_evaluated_as_iam_evaluates_a_key_the_request_lacks() -> None:
    without_keys = Permission("dynamodb:UpdateItem", TABLE_ARN)
    # ForAllValues holds for the empty set: a restriction on a key the request lacks restricts nothing
    assert conditions_hold({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["a"]}}, without_keys)
    assert not conditions_hold({"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["a"]}}, without_keys)
    assert not conditions_hold({"StringEquals": {"ses:FromAddress": "a@b.example"}}, without_keys)
    assert conditions_hold({"StringEqualsIfExists": {"ses:FromAddress": "a@b.example"}}, without_keys)
    # Null says whether the request must carry the key at all
    assert not conditions_hold({"Null": {"dynamodb:Attributes": "false"}}, without_keys)
    assert conditions_hold({"Null": {"dynamodb:Attributes": "true"}}, without_keys)
    with pytest.raises(NotImplementedError):
        conditions_hold({"StringNotEquals": {"ses:FromAddress": "a@b.example"}}, without_keys)


def test_an_email_is_sent_from_the_address_of_its_from_header_without_its_display_name() -> None:
    # Given an email from "Example Shop <hello@shop.example>"
    raw = b"From: Example Shop <hello@shop.example>\r\nTo: a@b.example\r\n\r\nhi"
    send = call(
        "ses",
        "SendEmail",
        FromEmailAddress="Example Shop <hello@shop.example>",
        Content={"Raw": {"Data": raw}},
        ConfigurationSetName="set",
    )
    identity, configuration_set = required_permissions(send)
    # Then both resources are authorized with ses:FromAddress the bare address
    assert identity.resource.endswith(":identity/shop.example")
    assert configuration_set.resource.endswith(":configuration-set/set")
    assert identity.value_of("ses:FromAddress") == ("hello@shop.example",)
    assert identity.value_of("ses:FromDisplayName") == ("Example Shop",)
    only_hello = {"StringEquals": {"ses:FromAddress": "hello@shop.example"}}
    only_news = {"StringEquals": {"ses:FromAddress": "news@shop.example"}}
    assert conditions_hold(only_hello, identity) and not conditions_hold(only_news, identity)
