"""BatchGetItem and BatchWriteItem until nothing is left unprocessed.

DynamoDB answers a batch in part when a partition is throttled or the response would pass 16 MB:
what it did not do comes back as ``UnprocessedKeys`` / ``UnprocessedItems`` and is sent again, with
a growing pause, up to ``max_attempts`` calls; what is still left then raises, and the record that
needed it is retried by SQS.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from nudge.adapters import clients

MAX_GET_KEYS = 100
MAX_WRITE_REQUESTS = 25


class UnprocessedError(RuntimeError):
    """A batch still had unprocessed keys or items after every attempt."""


def _pause(attempt: int) -> None:
    time.sleep(min(1.0, 0.05 * 2**attempt))


def batch_get(
    requests: Mapping[str, Mapping[str, Any]], max_attempts: int = 8
) -> dict[str, list[dict[str, Any]]]:
    """The items of ``requests`` (``RequestItems`` of BatchGetItem, table -> ``{"Keys": [...], ...}``,
    at most 100 keys in all), by table; keys that do not exist are simply absent."""
    client = clients.dynamodb()
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in requests}
    pending: dict[str, Any] = {table: dict(request) for table, request in requests.items() if request["Keys"]}
    if sum(len(request["Keys"]) for request in pending.values()) > MAX_GET_KEYS:
        raise ValueError(f"a BatchGetItem holds at most {MAX_GET_KEYS} keys")
    for attempt in range(max_attempts):
        if not pending:
            return found
        if attempt:
            _pause(attempt)
        response = client.batch_get_item(RequestItems=pending)
        for table, items in response.get("Responses", {}).items():
            found[table].extend(items)
        pending = dict(response.get("UnprocessedKeys") or {})
    if pending:
        left = sum(len(request["Keys"]) for request in pending.values())
        raise UnprocessedError(f"{left} keys were not read after {max_attempts} attempts")
    return found


def batch_write(table: str, requests: Sequence[Mapping[str, Any]], max_attempts: int = 8) -> int:
    """Send these write requests (``{"PutRequest": ...}``), 25 per BatchWriteItem call; returns the
    number of calls made."""
    client = clients.dynamodb()
    calls = 0
    for start in range(0, len(requests), MAX_WRITE_REQUESTS):
        pending: list[Any] = list(requests[start : start + MAX_WRITE_REQUESTS])
        for attempt in range(max_attempts):
            if attempt:
                _pause(attempt)
            calls += 1
            unprocessed = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {})
            pending = list(unprocessed.get(table, []))
            if not pending:
                break
        if pending:
            raise UnprocessedError(f"{len(pending)} items were not written after {max_attempts} attempts")
    return calls
