"""The Products table: the catalog, one row per SKU (``nudge.catalog_rows.Product``).

Every write is conditional, so arrival order never matters:

- a ``Product Updated`` event replaces a row only if it is newer (``updated_at``), or the row was
  only learned from an order (``origin = order``); an older or duplicate event changes nothing;
- a line item of an order creates a row only where there is none: it never replaces catalog data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nudge.adapters import clients
from nudge.catalog_rows import Product
from nudge.dal.batch_items import batch_get
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.timeutil import to_stored

PADDING_SCAN_LIMIT = 100
"""Rows one padding scan reads at most: a bounded read however large the catalog is."""


def _record(product: Product) -> dict[str, Any]:
    values = product.model_dump(mode="python")
    values["updated_at"] = to_stored(product.updated_at)
    return values


def _put_if(table: str, product: Product, condition: str, values: dict[str, Any] | None = None) -> bool:
    arguments: dict[str, Any] = {
        "TableName": table,
        "Item": to_item(_record(product)),
        "ConditionExpression": condition,
    }
    if values:
        arguments["ExpressionAttributeValues"] = to_item(values)
    try:
        clients.dynamodb().put_item(**arguments)
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def put_if_newer(table: str, product: Product) -> bool:
    """Write a catalog row unless the stored one is as new or newer. Returns whether it was written."""
    return _put_if(
        table,
        product,
        "attribute_not_exists(sku) OR origin = :order OR updated_at < :updated_at",
        {":order": "order", ":updated_at": to_stored(product.updated_at)},
    )


def put_if_absent(table: str, product: Product) -> bool:
    """Write a row only for a SKU the table does not hold. Returns whether it was written."""
    return _put_if(table, product, "attribute_not_exists(sku)")


def known_skus(table: str, skus: Sequence[str]) -> set[str]:
    """Which of these SKUs (at most 100) have a row: one BatchGetItem that reads only the key,
    eventually consistent (a row written since is found by its conditional put)."""
    distinct = list(dict.fromkeys(skus))
    if not distinct:
        return set()
    found = batch_get(
        {
            table: {
                "Keys": [to_item({"sku": sku}) for sku in distinct],
                "ProjectionExpression": "sku",
            }
        }
    )
    return {str(from_item(item)["sku"]) for item in found[table]}


def read_many(table: str, skus: Sequence[str]) -> dict[str, Product]:
    """The readable rows of these SKUs (at most 100), by SKU: one BatchGetItem, eventually
    consistent, unprocessed keys sent again (``nudge.dal.batch_items``)."""
    distinct = list(dict.fromkeys(skus))
    if not distinct:
        return {}
    found = batch_get({table: {"Keys": [to_item({"sku": sku}) for sku in distinct]}})
    products = {}
    for item in found[table]:
        try:
            product = Product.model_validate(from_item(item))
        except ValidationError:
            continue
        products[product.sku] = product
    return products


def in_stock_sample(table: str, limit: int = PADDING_SCAN_LIMIT) -> list[Product]:
    """In-stock products from one Scan page of at most ``limit`` rows (any rows: the filter applies
    after the limit, so the read stays bounded); rows that do not validate are left out."""
    response = clients.dynamodb().scan(
        TableName=table,
        Limit=limit,
        FilterExpression="in_stock = :true",
        ExpressionAttributeValues=to_item({":true": True}),
    )
    products: list[Product] = []
    for item in response.get("Items", []):
        try:
            products.append(Product.model_validate(from_item(item)))
        except ValidationError:
            continue
    return products
