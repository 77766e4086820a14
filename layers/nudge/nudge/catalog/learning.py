"""What an order teaches, as pure functions: its SKUs, their pairs, the top lists and best-sellers.

- An order contributes its first ``MAX_ORDER_SKUS`` distinct SKUs (in line-item order), so one huge
  order costs at most 20 counter updates and 190 pairs, however many lines it has.
- A pair is counted once per order that holds both SKUs, whatever the quantities.
- Rankings are by count, most first, ties by SKU: the same counts always give the same list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from nudge.catalog_rows import BESTSELLERS, POPULARITY_KEPT, TOP_PARTNERS, Bestsellers, Partner, Product
from nudge.events import LineItem, OrderPlaced

MAX_ORDER_SKUS = 20
"""Distinct SKUs of one order that are counted (the first ones, in line-item order)."""


def counted_skus(skus: Iterable[str], limit: int = MAX_ORDER_SKUS) -> list[str]:
    """The first ``limit`` distinct SKUs, in order: what one order counts."""
    return list(dict.fromkeys(skus))[:limit]


def distinct_items(order: OrderPlaced, limit: int = MAX_ORDER_SKUS) -> list[LineItem]:
    """The order's first ``limit`` distinct SKUs, each with its first line item."""
    seen: dict[str, LineItem] = {}
    for item in order.items:
        if item.sku not in seen:
            seen[item.sku] = item
            if len(seen) == limit:
                break
    return list(seen.values())


def pairs(skus: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair of distinct SKUs, each once: n (n - 1) / 2 of them."""
    distinct = list(dict.fromkeys(skus))
    return [(a, b) for index, a in enumerate(distinct) for b in distinct[index + 1 :]]


def partners(skus: Sequence[str]) -> dict[str, list[str]]:
    """For each SKU, the other SKUs of the order: the counters its ``pairs#`` row adds 1 to."""
    distinct = list(dict.fromkeys(skus))
    return {sku: [other for other in distinct if other != sku] for sku in distinct}


def ranked(counts: Mapping[str, int], limit: int) -> list[tuple[str, int]]:
    """The ``limit`` highest counts, most first, ties by SKU; zero and negative counts are dropped."""
    positive = [(sku, int(count)) for sku, count in counts.items() if count > 0]
    return sorted(positive, key=lambda entry: (-entry[1], entry[0]))[:limit]


def top_partners(sku: str, counts: Mapping[str, int], limit: int = TOP_PARTNERS) -> tuple[Partner, ...]:
    """A ``top#<sku>`` row's partners from the SKU's pair counts (never the SKU itself)."""
    others = {partner: count for partner, count in counts.items() if partner != sku}
    return tuple(Partner(sku=partner, count=count) for partner, count in ranked(others, limit))


def product_from_line_item(item: LineItem, order: OrderPlaced) -> Product | None:
    """The catalog row an order's line item stands for, when the catalog lacks the SKU: in stock,
    at the price paid, in the order's currency, as of the order. None without a product URL (a row
    the send path could not link to)."""
    if item.product_url is None:
        return None
    return Product(
        sku=item.sku,
        name=item.name,
        product_url=str(item.product_url),
        image_url=str(item.image_url) if item.image_url else None,
        price=item.unit_price,
        currency=order.currency,
        in_stock=True,
        updated_at=order.placed_at,
        origin="order",
    )


def sales_day(order: OrderPlaced) -> date:
    """The day bucket an order counts in: its ``placed_at`` date in UTC."""
    return order.placed_at.astimezone(UTC).date()


def window(today: date, days: int) -> list[date]:
    """The days of the rolling window that ends today, today first."""
    return [today - timedelta(days=offset) for offset in range(days)]


def bestsellers_due(
    row: Bestsellers | None, now: datetime, max_age: timedelta, currencies: Iterable[str] = ()
) -> bool:
    """Recompute when there is no list, it is short (the cold start), it is older than ``max_age``,
    or one of ``currencies`` (the event's) has no list yet or a short one: a product in a new
    currency, or a small market, is recommended at once, not an hour later."""
    if row is None or row.computed_at is None or len(row.skus) < BESTSELLERS:
        return True
    if any(c not in row.currencies or c in row.short_currencies for c in currencies):
        return True
    return row.computed_at < now - max_age


def sales(buckets: Iterable[Mapping[str, int]], limit: int = POPULARITY_KEPT) -> list[tuple[str, int]]:
    """The best-selling SKUs over the day buckets with their orders, best first."""
    totals: Counter[str] = Counter()
    for bucket in buckets:
        totals.update({sku: int(count) for sku, count in bucket.items()})
    return ranked(totals, limit)


def rank_bestsellers(buckets: Iterable[Mapping[str, int]], limit: int = BESTSELLERS) -> list[str]:
    """The best-selling SKUs over the day buckets (order counts per SKU), best first."""
    return [sku for sku, _ in sales(buckets, limit)]


def padded(best: Sequence[str], catalog: Iterable[Product], limit: int = BESTSELLERS) -> list[str]:
    """``best``, then in-stock catalog products it does not hold (catalog rows before ones learned
    from orders, then by SKU) until ``limit``: the block is never empty while the catalog is not."""
    chosen = list(dict.fromkeys(best))[:limit]
    candidates = sorted(
        (product for product in catalog if product.in_stock and product.sku not in chosen),
        key=lambda product: (product.origin != "catalog", product.sku),
    )
    chosen += [product.sku for product in candidates[: max(0, limit - len(chosen))]]
    return chosen


def bestsellers_by_currency(
    sold: Sequence[str], catalog: Mapping[str, Product], padding: Iterable[Product], limit: int = BESTSELLERS
) -> dict[str, list[str]]:
    """For each currency the catalog rows price anything in: the sold SKUs (best first) with a price
    in it, then in-stock ``padding`` products with one (as ``padded``), ``limit`` at most. An email
    in that currency falls back on its list: every product on it can be shown there."""
    extra = list(padding)
    currencies = sorted({code for p in [*catalog.values(), *extra] for code in (p.currency, *p.prices)})
    lists = {}
    for currency in currencies:
        best = [sku for sku in sold if sku in catalog and catalog[sku].price_in(currency) is not None]
        lists[currency] = padded(best[:limit], [p for p in extra if p.price_in(currency) is not None], limit)
    return lists
