"""The Recommendations table: what orders teach, and the materialised lists the send path reads.

Rows (key ``model_key``):

- ``order#<order_id>``: the guard of a counted order (expires after ``expires_at``);
- ``pairs#<sku>``: one counter ``p:<partner sku>`` per SKU ever bought with ``sku`` (orders holding
  both); the ``p:`` prefix keeps a SKU from ever naming ``model_key`` or ``expires_at``;
- ``sales#<YYYY-MM-DD>``: one counter ``s:<sku>`` per SKU ordered that day (UTC), expiring after
  the best-seller window;
- ``top#<sku>``, ``bestsellers`` and ``bestsellers#<currency>``: ``nudge.catalog_rows``, rewritten
  from the counters.

Counting is exactly once per order: the guard and every counter of the order are one
TransactWriteItems, which DynamoDB cancels as a whole when the guard exists. A retry after any
failure (a crash after the transaction, a lost answer) finds the guard and counts nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nudge.adapters import clients
from nudge.catalog_rows import BESTSELLERS, BESTSELLERS_KEY, Bestsellers, Partner, bestsellers_key, top_key
from nudge.dal.batch_items import MAX_GET_KEYS, batch_get, batch_write
from nudge.dal.items import cancellation_codes, from_item, to_item
from nudge.timeutil import to_stored

PAIR_PREFIX = "p:"
SALE_PREFIX = "s:"


def order_key(order_id: str) -> str:
    return f"order#{order_id}"


def pairs_key(sku: str) -> str:
    return f"pairs#{sku}"


def sales_key(day: date) -> str:
    return f"sales#{day.isoformat()}"


def _adds(prefix: str, skus: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``ADD #a0 :one, #a1 :one, ...`` with the attribute names ``<prefix><sku>``."""
    names = {f"#a{index}": f"{prefix}{sku}" for index, sku in enumerate(skus)}
    return "ADD " + ", ".join(f"{name} :one" for name in names), names


def count_order(
    table: str,
    *,
    order_id: str,
    partners: Mapping[str, Sequence[str]],
    day: date,
    counted_at: datetime,
    guard_expires_at: datetime,
    sales_expire_at: datetime,
) -> bool:
    """Count one order, once: its guard, 1 on each pair counter (``partners``: each SKU of the order
    with the others), 1 per SKU on the day's sales. Returns False when the order was already counted.

    One TransactWriteItems of 2 + (SKUs with partners) items. Any other cancellation (a conflicting
    transaction on a counter, throttling) raises: the record is retried and the guard decides again.
    """
    one = to_item({":one": 1})
    actions: list[Any] = [
        {
            "Put": {
                "TableName": table,
                "Item": to_item(
                    {
                        "model_key": order_key(order_id),
                        "counted_at": to_stored(counted_at),
                        "expires_at": int(guard_expires_at.timestamp()),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(model_key)",
            }
        }
    ]
    for sku, others in partners.items():
        if not others:
            continue
        expression, names = _adds(PAIR_PREFIX, others)
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": to_item({"model_key": pairs_key(sku)}),
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": one,
                }
            }
        )
    expression, names = _adds(SALE_PREFIX, list(partners))
    actions.append(
        {
            "Update": {
                "TableName": table,
                "Key": to_item({"model_key": sales_key(day)}),
                "UpdateExpression": f"SET expires_at = :expires {expression}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    **one,
                    **to_item({":expires": int(sales_expire_at.timestamp())}),
                },
            }
        }
    )
    try:
        clients.dynamodb().transact_write_items(TransactItems=actions)
    except ClientError as error:
        if _guard_held(error):
            return False
        raise
    return True


def _guard_held(error: ClientError) -> bool:
    """The transaction was cancelled because the order's guard (its first item) already exists."""
    codes = cancellation_codes(error)
    return codes is not None and codes[:1] == ["ConditionalCheckFailed"]


def _counters(row: Mapping[str, Any], prefix: str) -> dict[str, int]:
    """A row's counters (``<prefix><sku>`` attributes) as SKU -> count."""
    return {
        name[len(prefix) :]: int(value)
        for name, value in row.items()
        if name.startswith(prefix) and isinstance(value, Decimal)
    }


def read_pairs_and_bestsellers(
    table: str, skus: Sequence[str]
) -> tuple[dict[str, dict[str, int]], Bestsellers | None]:
    """The pair counters of these SKUs (at most 99) and the ``bestsellers`` row, in one strongly
    consistent BatchGetItem (so the counts include the transaction just written)."""
    keys = [pairs_key(sku) for sku in dict.fromkeys(skus)] + [BESTSELLERS_KEY]
    if len(keys) > MAX_GET_KEYS:
        raise ValueError(f"at most {MAX_GET_KEYS - 1} SKUs per read")
    found = batch_get(
        {table: {"Keys": [to_item({"model_key": key}) for key in keys], "ConsistentRead": True}}
    )
    counts: dict[str, dict[str, int]] = {sku: {} for sku in dict.fromkeys(skus)}
    bestsellers = None
    for item in found[table]:
        row = from_item(item)
        key = str(row["model_key"])
        if key == BESTSELLERS_KEY:
            bestsellers = _bestsellers(row)
        elif key.startswith("pairs#"):
            counts[key.removeprefix("pairs#")] = _counters(row, PAIR_PREFIX)
    return counts, bestsellers


def get_bestsellers(table: str) -> Bestsellers | None:
    item = (
        clients.dynamodb().get_item(TableName=table, Key=to_item({"model_key": BESTSELLERS_KEY})).get("Item")
    )
    return _bestsellers(from_item(item)) if item else None


def _bestsellers(row: Mapping[str, Any]) -> Bestsellers | None:
    try:
        return Bestsellers.model_validate(row)
    except ValidationError:
        return None  # unreadable: recomputed as if missing


def write_top_lists(table: str, tops: Mapping[str, Sequence[Partner]], at: datetime) -> int:
    """Replace the ``top#<sku>`` rows (BatchWriteItem, 25 a call); returns the calls made."""
    requests = [
        {
            "PutRequest": {
                "Item": to_item(
                    {
                        "model_key": top_key(sku),
                        "partners": [{"sku": p.sku, "count": p.count} for p in partners],
                        "updated_at": to_stored(at),
                    }
                )
            }
        }
        for sku, partners in tops.items()
    ]
    return batch_write(table, requests) if requests else 0


def sales_buckets(table: str, days: Sequence[date]) -> list[dict[str, int]]:
    """The day buckets that exist among ``days`` (one BatchGetItem per 100 days), as SKU -> orders."""
    buckets: list[dict[str, int]] = []
    for start in range(0, len(days), MAX_GET_KEYS):
        chunk = days[start : start + MAX_GET_KEYS]
        found = batch_get({table: {"Keys": [to_item({"model_key": sales_key(day)}) for day in chunk]}})
        buckets += [_counters(from_item(item), SALE_PREFIX) for item in found[table]]
    return buckets


def put_bestsellers(
    table: str,
    skus: Sequence[str],
    computed_at: datetime,
    *,
    popularity: Sequence[tuple[str, int]] = (),
    by_currency: Mapping[str, Sequence[str]] | None = None,
    stale_currencies: Sequence[str] = (),
) -> None:
    """Write each currency's ``bestsellers#<currency>`` row (BatchWriteItem; an empty list for each
    of ``stale_currencies``, which have none any more), then the ``bestsellers`` row naming them.
    The ``bestsellers`` row goes last: until it is written its old ``computed_at`` says the lists
    are due, so a crash in between is redone by the next event."""
    lists = {**{currency: () for currency in stale_currencies}, **(by_currency or {})}
    stored = to_stored(computed_at)
    requests = [
        {
            "PutRequest": {
                "Item": to_item(
                    {"model_key": bestsellers_key(currency), "skus": list(found), "computed_at": stored}
                )
            }
        }
        for currency, found in sorted(lists.items())
    ]
    if requests:
        batch_write(table, requests)
    clients.dynamodb().put_item(
        TableName=table,
        Item=to_item(
            {
                "model_key": BESTSELLERS_KEY,
                "skus": list(skus),
                "computed_at": stored,
                "popularity": [{"sku": sku, "orders": orders} for sku, orders in popularity],
                "currencies": sorted(by_currency or {}),
                "short_currencies": sorted(
                    currency for currency, found in (by_currency or {}).items() if len(found) < BESTSELLERS
                ),
            }
        ),
    )
