"""The store's own profile changes (Customer Updated, Customer Deleted): what
``nudge.customers.updates`` and ``nudge.customers.erasure`` decide, written."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item


def create_profile(table: str, attributes: dict[str, Any]) -> bool:
    """Write a new profile; False when one exists already (created meanwhile)."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=to_item(attributes),
            ConditionExpression="attribute_not_exists(customer_id)",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def update_profile(
    table: str,
    customer_id: str,
    *,
    set_values: dict[str, Any],
    remove: list[str],
    older_than: dict[str, str],
) -> bool:
    """Set and remove attributes of an existing profile in one write, if each stamp attribute in
    ``older_than`` is absent or older than its value (no newer change was written meanwhile) and no
    erasure has begun. False when that no longer holds: the caller reads again and decides anew."""
    names = {f"#a{index}": name for index, name in enumerate([*set_values, *remove])}
    alias = {name: key for key, name in names.items()}
    values: dict[str, Any] = {f":v{index}": value for index, value in enumerate(set_values.values())}
    clauses = []
    if set_values:
        clauses.append("SET " + ", ".join(f"{alias[name]} = :v{i}" for i, name in enumerate(set_values)))
    if remove:
        clauses.append("REMOVE " + ", ".join(alias[name] for name in remove))
    conditions = ["attribute_exists(customer_id)", "attribute_not_exists(erasure_requested_at)"]
    for index, (stamp, moment) in enumerate(older_than.items()):
        names[f"#s{index}"] = stamp
        values[f":s{index}"] = moment
        conditions.append(f"(attribute_not_exists(#s{index}) OR #s{index} < :s{index})")
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression=" ".join(clauses),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def mark_erasure(table: str, customer_id: str, requested_at: str) -> dict[str, Any] | None:
    """Mark the profile as being erased (sends stop at once: it reads as unknown); the profile after
    it, or None when there is no profile. Repeatable: an earlier mark stays."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression="SET erasure_requested_at = if_not_exists(erasure_requested_at, :at)",
            ConditionExpression="attribute_exists(customer_id)",
            ExpressionAttributeValues=to_item({":at": requested_at}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return from_item(response["Attributes"])


def delete_profile(table: str, customer_id: str) -> bool:
    """Delete a profile marked for erasure; False when there is none (deleted before: a retry)."""
    try:
        clients.dynamodb().delete_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            ConditionExpression="attribute_exists(erasure_requested_at)",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True
