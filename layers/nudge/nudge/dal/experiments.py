"""The Experiments table: rows a marketer edits (``nudge.experiments.models``), read as they stand."""

from __future__ import annotations

from typing import Any

from nudge.adapters import clients
from nudge.dal.items import from_item, to_item
from nudge.ttl_cache import Expiring

# Starting, stopping or editing an experiment reaches every warm function within a minute.
EXPERIMENT_CACHE_SECONDS = 60
_running: Expiring[list[dict[str, Any]]] = Expiring(EXPERIMENT_CACHE_SECONDS)


def running_rows(table: str) -> list[dict[str, Any]]:
    """Every row whose status is ``running``, unvalidated: the caller validates each on its own, so
    one bad row never hides the others. Cached for ``EXPERIMENT_CACHE_SECONDS``."""
    return _running.get(table, lambda: _scan_running(table))


def _scan_running(table: str) -> list[dict[str, Any]]:
    pages = (
        clients.dynamodb()
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":running": "running"}),
        )
    )
    return [from_item(item) for page in pages for item in page.get("Items", [])]


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
