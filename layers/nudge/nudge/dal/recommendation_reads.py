"""The send path's reads of the catalog and the recommendation model: at most one BatchGetItem
each, and none for rows a warm function read within the last minute.

Both tables change with orders and product updates, not with each email, and recommendations are
popular products by design, so most emails find every row they need in memory. A product that went
out of stock is left out of emails within ``RECOMMENDATION_CACHE_SECONDS``: no worse than one that
goes out of stock after the email is sent. A row that does not exist is remembered as such too (an
unknown SKU is not read for every email); a key DynamoDB left unprocessed (throttling) is not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from nudge.adapters import clients
from nudge.catalog_rows import Product
from nudge.dal.items import from_item, to_item
from nudge.ttl_cache import Expiring

RECOMMENDATION_CACHE_SECONDS = 60
# Bounds the memory a warm function spends on them (a product row is about 1 KB in memory).
MAX_CACHED_ROWS = 20_000

_rows: Expiring[dict[str, Any] | None] = Expiring(RECOMMENDATION_CACHE_SECONDS, MAX_CACHED_ROWS)
_products: Expiring[Product | None] = Expiring(RECOMMENDATION_CACHE_SECONDS, MAX_CACHED_ROWS)


def read_rows(table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The model rows of these ``model_key`` values that exist (at most 100), by key."""

    def load(missing: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | None]:
        return _read(table, "model_key", [key for _, key in missing], lambda row: row)

    found = _rows.get_many([(table, key) for key in dict.fromkeys(keys)], load)
    return {key: row for (_, key), row in found.items() if row is not None}


def read_products(table: str, skus: Sequence[str]) -> dict[str, Product]:
    """The catalog rows of these SKUs that exist and are readable (at most 100), by SKU."""

    def load(missing: list[tuple[str, str]]) -> dict[tuple[str, str], Product | None]:
        return _read(table, "sku", [sku for _, sku in missing], _product)

    found = _products.get_many([(table, sku) for sku in dict.fromkeys(skus)], load)
    return {sku: product for (_, sku), product in found.items() if product is not None}


def expired_row_keys(table: str, keys: Sequence[str]) -> list[str]:
    """Which of these model rows this container has read and whose minute has passed."""
    return [key for _, key in _rows.expired([(table, key) for key in keys])]


def remember_rows(table: str, keys: Sequence[str], response: Mapping[str, Any]) -> None:
    """Model rows read with a profile (``nudge.dal.send_reads``: its BatchGetItem ``response``),
    cached as ``read_rows`` caches its own."""
    _rows.put_many(_answered(response, table, "model_key", keys, lambda row: row))


def expired_product_skus(table: str, skus: Sequence[str]) -> list[str]:
    """Which of these catalog rows this container has read and whose minute has passed."""
    return [sku for _, sku in _products.expired([(table, sku) for sku in skus])]


def remember_products(table: str, skus: Sequence[str], response: Mapping[str, Any]) -> None:
    """Catalog rows read with a profile, cached as ``read_products`` caches its own."""
    _products.put_many(_answered(response, table, "sku", skus, _product))


def _product(row: dict[str, Any]) -> Product | None:
    try:
        return Product.model_validate(row)
    except ValidationError:
        return None  # a row the catalog function did not write: not recommendable


def _read(table: str, key_name: str, keys: list[str], parse: Any) -> dict[tuple[str, str], Any]:
    """One BatchGetItem of ``keys`` (the first 100): each key's parsed row, or None for a key
    DynamoDB answered without a row; keys it left unprocessed are left out."""
    keys = keys[:100]
    if not keys:
        return {}
    response = clients.dynamodb().batch_get_item(
        RequestItems={table: {"Keys": [to_item({key_name: key}) for key in keys]}}
    )
    # Unprocessed keys (throttling) are not retried: a read more per email is worse than a
    # recommendation less.
    return _answered(response, table, key_name, keys, parse)


def _answered(
    response: Mapping[str, Any], table: str, key_name: str, keys: Sequence[str], parse: Callable[[Any], Any]
) -> dict[tuple[str, str], Any]:
    """What a BatchGetItem ``response`` says of ``table``'s ``keys``: each key's parsed row, or None
    for a key answered without a row; keys left unprocessed are left out (not known either way)."""
    rows = {str(row[key_name]): row for row in map(from_item, response.get("Responses", {}).get(table, []))}
    unprocessed: dict[str, Any] = dict(response.get("UnprocessedKeys", {}).get(table) or {})
    skipped = {str(from_item(key)[key_name]) for key in unprocessed.get("Keys", [])}
    return {(table, key): (parse(rows[key]) if key in rows else None) for key in keys if key not in skipped}
