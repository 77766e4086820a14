"""Table rows the tools write and read directly, not the functions: seeding the local stack and
the tests, asserting what the functions stored, and the marketing tools' loads of segment and
experiment files. Kept out of the layer, which ships only what the functions run."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from nudge.adapters import clients
from nudge.catalog_rows import Product
from nudge.dal.customers import stored_record
from nudge.dal.deliveries import get_delivery
from nudge.dal.items import from_item, to_item
from nudge.outcome import Outcome
from nudge.profiles import Customer, Segment
from nudge.reengagement.checkpoints import Checkpoint, checkpoint_from_row


def import_customers(table: str, customers: Iterable[Customer], max_attempts: int = 8) -> int:
    """Create or replace many profiles, 25 per BatchWriteItem call, retrying unprocessed items."""
    return import_rows(table, (stored_record(customer) for customer in customers), max_attempts)


def import_rows(table: str, rows: Iterable[dict[str, Any]], max_attempts: int = 8) -> int:
    """Create or replace many rows (plain values), 25 per BatchWriteItem call, retrying unprocessed ones."""
    client = clients.dynamodb()
    imported = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        requests: list[Any] = [{"PutRequest": {"Item": to_item(row)}} for row in batch]
        for attempt in range(max_attempts):
            unprocessed = client.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems", {})
            requests = list(unprocessed.get(table, []))
            if not requests:
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise RuntimeError(f"{len(requests)} rows were not written after {max_attempts} attempts")

    for row in rows:
        batch.append(row)
        if len(batch) == 25:
            flush()
            imported += len(batch)
            batch = []
    if batch:
        flush()
        imported += len(batch)
    return imported


def put_segment(table: str, segment: Segment) -> None:
    clients.dynamodb().put_item(
        TableName=table, Item=to_item(segment.model_dump(mode="python", exclude_none=True))
    )


def segment_rows(table: str) -> list[dict[str, Any]]:
    """Every row as stored, unvalidated (the marketing tools compare a file with them)."""
    pages = clients.dynamodb().get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [from_item(item) for page in pages for item in page.get("Items", [])]


def put_segment_row(table: str, row: dict[str, Any]) -> None:
    """Create or replace a row as written in a segments file (validated by the caller)."""
    clients.dynamodb().put_item(TableName=table, Item=to_item(row))


def delete_segment(table: str, segment_id: str) -> None:
    clients.dynamodb().delete_item(TableName=table, Key=to_item({"segment_id": segment_id}))


def put_experiment(table: str, row: dict[str, Any]) -> None:
    """Create or replace a row (the demo, tests, and the marketing tools' load of a file)."""
    clients.dynamodb().put_item(TableName=table, Item=to_item(row))


def experiment_rows(table: str) -> list[dict[str, Any]]:
    """Every row, of any status, as stored and unvalidated (the marketing tools compare a file with
    them; a send test picks a draft's variant)."""
    pages = clients.dynamodb().get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [from_item(item) for page in pages for item in page.get("Items", [])]


def delete_experiment(table: str, experiment_id: str) -> None:
    clients.dynamodb().delete_item(TableName=table, Key=to_item({"experiment_id": experiment_id}))


def get_product(table: str, sku: str) -> Product | None:
    item = clients.dynamodb().get_item(TableName=table, Key=to_item({"sku": sku}), ConsistentRead=True)
    row = item.get("Item")
    return Product.model_validate(from_item(row)) if row else None


def get_outcome(table: str, customer_id: str, trigger: str, business_id: str) -> Outcome | None:
    delivery = get_delivery(table, customer_id, trigger, business_id)
    return delivery.outcome if delivery else None


def run_checkpoints(table: str, run_id: str) -> list[Checkpoint]:
    """Every shard's row of one run (progress, and the run's totals)."""
    paginator = clients.dynamodb().get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="run_id = :run",
        ExpressionAttributeValues=to_item({":run": run_id}),
        ConsistentRead=True,
    )
    return [checkpoint_from_row(from_item(item)) for page in pages for item in page.get("Items", [])]
