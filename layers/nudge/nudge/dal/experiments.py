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
