"""The catalog function's SQS batch: Product Updated events fill the catalog, Order Placed events
fill in the SKUs it lacks and teach what is bought together.

Each record is idempotent, so SQS may deliver it any number of times after any failure:

- a product is written only if newer than the stored row (or the row was learned from an order);
- an order's line items create rows only for SKUs the catalog does not hold;
- an order is counted once (``nudge.dal.copurchases.count_order``: a guard in the same transaction),
  and everything after the count (the top lists, the best-sellers) is recomputed from the counters,
  not incremented, so a retry after a crash or a throttled write simply redoes it.

What can never succeed (an event that fails validation) is dead-lettered at once, naming the field;
anything else is retried with back-off (``nudge.sqs_batches``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.catalog.events import CatalogRecord, ProductUpdated, ProductUpdatedEvent
from nudge.catalog.learning import (
    bestsellers_by_currency,
    bestsellers_due,
    distinct_items,
    padded,
    partners,
    product_from_line_item,
    sales,
    sales_day,
    top_partners,
    window,
)
from nudge.catalog.settings import CatalogSettings
from nudge.catalog_rows import BESTSELLERS, Bestsellers, Product
from nudge.dal import copurchases, products
from nudge.events import OrderPlaced
from nudge.observability import logger, metrics
from nudge.sqs_batches import PartialItemFailureResponse, process_queue_batch
from nudge.timeutil import utc_now


@dataclass(frozen=True)
class OrderLearned:
    skus: int
    """Distinct SKUs taken from the order (at most ``MAX_ORDER_SKUS``)."""
    products_added: int
    counted: bool
    """False when the order had been counted before (a retry or a duplicate)."""
    top_lists_written: int
    bestsellers_refreshed: bool


def catalog_product(detail: ProductUpdated) -> Product:
    return Product(
        sku=detail.sku,
        name=detail.name,
        product_url=str(detail.product_url),
        image_url=str(detail.image_url) if detail.image_url else None,
        price=detail.price,
        currency=detail.currency,
        in_stock=detail.in_stock,
        category=detail.category,
        updated_at=detail.updated_at,
        origin="catalog",
        prices=dict(detail.prices),
        names=dict(detail.names),
    )


def handle_product_updated(detail: ProductUpdated, settings: CatalogSettings, now: datetime) -> bool:
    """Write the product if it is newer; then refresh the best-sellers if they are due. Returns
    whether the product was written (False: an older or duplicate event)."""
    product = catalog_product(detail)
    written = products.put_if_newer(settings.products_table, product)
    currencies = [product.currency, *product.prices]
    refresh_bestsellers(
        settings, copurchases.get_bestsellers(settings.recommendations_table), now, currencies
    )
    metrics.add_metric(
        name="ProductWritten" if written else "ProductNotNewer", unit=MetricUnit.Count, value=1
    )
    return written


def handle_order_placed(order: OrderPlaced, settings: CatalogSettings, now: datetime) -> OrderLearned:
    """Fill in unknown SKUs, count the order once, then rewrite its SKUs' top lists and, when due,
    the best-sellers."""
    items = distinct_items(order)
    skus = [item.sku for item in items]
    learned = [p for p in (product_from_line_item(item, order) for item in items) if p is not None]
    known = products.known_skus(settings.products_table, [p.sku for p in learned]) if learned else set()
    added = sum(
        products.put_if_absent(settings.products_table, product)
        for product in learned
        if product.sku not in known
    )
    day = sales_day(order)
    counted = copurchases.count_order(
        settings.recommendations_table,
        order_id=order.order_id,
        partners=partners(skus),
        day=day,
        counted_at=now,
        guard_expires_at=now + settings.order_guard_retention,
        sales_expire_at=datetime.combine(day, time.min, UTC) + settings.bestseller_window + timedelta(days=1),
    )
    # Recomputed whether or not this delivery counted: a crash after the count is retried here.
    with_partners = skus if len(skus) > 1 else []
    counts, bestsellers = copurchases.read_pairs_and_bestsellers(
        settings.recommendations_table, with_partners
    )
    tops = {sku: top_partners(sku, counts.get(sku, {})) for sku in with_partners}
    copurchases.write_top_lists(settings.recommendations_table, tops, now)
    refreshed = refresh_bestsellers(settings, bestsellers, now)
    metrics.add_metric(
        name="OrderCounted" if counted else "OrderAlreadyCounted", unit=MetricUnit.Count, value=1
    )
    if added:
        metrics.add_metric(name="ProductLearnedFromOrder", unit=MetricUnit.Count, value=added)
    return OrderLearned(len(skus), added, counted, len(tops), refreshed)


def refresh_bestsellers(
    settings: CatalogSettings, row: Bestsellers | None, now: datetime, currencies: Sequence[str] = ()
) -> bool:
    """Recompute the best-sellers when the ``bestsellers`` row is missing, short or stale: the
    window's day buckets (one BatchGetItem), the catalog rows of the most sold (one BatchGetItem),
    padded with in-stock products (one bounded Scan) while a list is short. Every currency a product
    is priced in gets its own list, of products with a price in it; ``currencies`` (the event's)
    make it due at once when one of them has no list yet, or a short one."""
    if not bestsellers_due(row, now, settings.bestsellers_max_age, currencies):
        return False
    days = window(now.astimezone(UTC).date(), settings.bestseller_window_days)
    sold = sales(copurchases.sales_buckets(settings.recommendations_table, days))
    skus = [sku for sku, _ in sold]
    catalog = products.read_many(settings.products_table, skus)
    best = skus[:BESTSELLERS]
    markets = bestsellers_by_currency(skus, catalog, ())
    sample: list[Product] = []
    if len(best) < BESTSELLERS or not markets or any(len(found) < BESTSELLERS for found in markets.values()):
        sample = products.in_stock_sample(settings.products_table)
        best = padded(best, sample)
        markets = bestsellers_by_currency(skus, catalog, sample)
    copurchases.put_bestsellers(
        settings.recommendations_table,
        best,
        now,
        popularity=sold,
        by_currency=markets,
        stale_currencies=[c for c in (row.currencies if row else ()) if c not in markets],
    )
    return True


def process_catalog_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = CatalogSettings.from_environment()

    def handle_record(record: CatalogRecord) -> None:
        body = record.body
        now = utc_now()
        if isinstance(body, ProductUpdatedEvent):
            written = handle_product_updated(body.detail, settings, now)
            logger.info("product updated", extra={"sku": body.detail.sku, "written": written})
            return
        learned = handle_order_placed(body.detail, settings, now)
        logger.info("order learned", extra={"order_id": body.detail.order_id, **learned.__dict__})

    return process_queue_batch(
        event,
        context,
        dimension=("function", "catalog"),
        model=CatalogRecord,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
    )
