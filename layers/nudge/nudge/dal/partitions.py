"""Every row of one partition key, read or deleted: what erasing or exporting a customer needs from
the tables keyed by ``customer_id`` and something else (deliveries, consent history)."""

from __future__ import annotations

import time
from typing import Any

from nudge.adapters import clients
from nudge.dal.items import from_item, to_item

# DynamoDB takes at most 25 requests per BatchWriteItem.
_BATCH = 25
MAX_ATTEMPTS = 8


def rows(table: str, partition: str, value: str) -> list[dict[str, Any]]:
    """Every row whose ``partition`` attribute is ``value``, as plain values (strongly consistent)."""
    found: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#p = :value",
        "ExpressionAttributeNames": {"#p": partition},
        "ExpressionAttributeValues": to_item({":value": value}),
        "ConsistentRead": True,
    }
    while True:
        response = clients.dynamodb().query(**arguments)
        found.extend(from_item(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return found
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def delete_rows(table: str, partition: str, sort: str, value: str) -> int:
    """Delete every row of the partition; returns how many were deleted. Repeatable: a retry after a
    crash deletes what is left (a deleted key is deleted again without error)."""
    deleted = 0
    while True:
        keys = _keys(table, partition, sort, value)
        if not keys:
            return deleted
        for start in range(0, len(keys), _BATCH):
            _delete_batch(table, keys[start : start + _BATCH])
        deleted += len(keys)


def _keys(table: str, partition: str, sort: str, value: str) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#p = :value",
        "ProjectionExpression": "#p, #s",
        "ExpressionAttributeNames": {"#p": partition, "#s": sort},
        "ExpressionAttributeValues": to_item({":value": value}),
        "ConsistentRead": True,
    }
    while True:
        response = clients.dynamodb().query(**arguments)
        keys.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return keys
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _delete_batch(table: str, keys: list[dict[str, Any]]) -> None:
    requests: list[Any] = [{"DeleteRequest": {"Key": key}} for key in keys]
    for attempt in range(MAX_ATTEMPTS):
        unprocessed = clients.dynamodb().batch_write_item(RequestItems={table: requests})
        requests = list(unprocessed.get("UnprocessedItems", {}).get(table, []))
        if not requests:
            return
        time.sleep(min(1.0, 0.05 * 2**attempt))
    # Retried with the record: what was deleted stays deleted, the rest is deleted next time.
    raise RuntimeError(f"{len(requests)} rows were not deleted after {MAX_ATTEMPTS} attempts")
