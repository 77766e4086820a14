"""The send path's reads of the catalog and the recommendation model: one BatchGetItem each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from nudge.adapters import clients
from nudge.catalog.models import Product
from nudge.dal.items import from_item, to_item


def read_rows(table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The model rows of these ``model_key`` values that exist (at most 100), by key."""
    return {str(row["model_key"]): row for row in _batch_get(table, "model_key", list(dict.fromkeys(keys)))}


def read_products(table: str, skus: Sequence[str]) -> dict[str, Product]:
    """The catalog rows of these SKUs that exist and are readable (at most 100), by SKU."""
    products: dict[str, Product] = {}
    for row in _batch_get(table, "sku", list(dict.fromkeys(skus))):
        try:
            product = Product.model_validate(row)
        except ValidationError:
            continue  # a row the catalog function did not write: not recommendable
        products[product.sku] = product
    return products


def _batch_get(table: str, key_name: str, keys: list[str]) -> list[dict[str, Any]]:
    if not keys:
        return []
    response = clients.dynamodb().batch_get_item(
        RequestItems={table: {"Keys": [to_item({key_name: key}) for key in keys[:100]]}}
    )
    # Unprocessed keys (throttling) are not retried: a read more per email is worse than a
    # recommendation less.
    return [from_item(item) for item in response.get("Responses", {}).get(table, [])]
