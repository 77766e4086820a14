"""Conversion between plain Python values and DynamoDB's typed attribute values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def is_condition_failure(error: ClientError) -> bool:
    """The write's ConditionExpression did not hold (as opposed to any other failure)."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def cancellation_codes(error: ClientError) -> list[str] | None:
    """Why each item of a cancelled transaction failed, in item order (``None`` for one that did
    not, ``ConditionalCheckFailed`` for a failed condition); None if the error is no cancellation."""
    response = cast(dict[str, Any], error.response)
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = response.get("CancellationReasons") or []
    if reasons:
        return [str(reason.get("Code") or "None") for reason in reasons]
    # Without the reasons (older SDKs) the message lists them: "[None, ConditionalCheckFailed]".
    message = str(response.get("Error", {}).get("Message", ""))
    listed = message[message.find("[") + 1 : message.find("]")] if "[" in message else ""
    return [code.strip() for code in listed.split(",")]
