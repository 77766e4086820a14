"""Order history for the offline evaluation of recommendations (``make recs-eval``): read from a CSV,
or generated, seeded, with a realistic long tail.

Two CSV shapes are read:

- one row per line item, with a header naming ``order_id``, ``sku`` and ``placed_at`` (ISO 8601);
  orders are put in time order by ``placed_at`` (ties by first appearance);
- one basket per line, its items separated by commas, no header (the shape of the public
  "Groceries" market-basket file, 9,835 baskets): the file's line order is taken as time order.

The synthetic store (``synthetic_orders``) has a catalogue of a few hundred products in categories.
Each basket has a mission (a category, the popular ones more often); its items are drawn from the
store's overall popularity (staples that go with anything, a Zipf long tail: the best-seller is in
about a quarter of the baskets, as milk is in the Groceries data), from the mission's category, and
from the categories that complement it. So both signals exist: popularity, and products that are
bought together beyond their popularity. Everything comes from one seeded ``random.Random``: the
same seed gives the same orders on any machine.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

SYNTHETIC_SEED = 20261123
SYNTHETIC_ORDERS = 10_000
SYNTHETIC_PRODUCTS = 400
SYNTHETIC_CATEGORIES = 25
SYNTHETIC_START = datetime(2026, 1, 1, tzinfo=UTC)
SYNTHETIC_DAYS = 90


@dataclass(frozen=True)
class Order:
    order_id: str
    placed_at: datetime
    skus: tuple[str, ...]
    """Distinct SKUs in the order they were added."""


def _zipf_weights(count: int, exponent: float) -> list[float]:
    return [1 / (rank**exponent) for rank in range(1, count + 1)]


def _draw(rng: random.Random, items: list[str], cumulative: list[float]) -> str:
    return rng.choices(items, cum_weights=cumulative, k=1)[0]


def synthetic_orders(
    count: int = SYNTHETIC_ORDERS,
    products: int = SYNTHETIC_PRODUCTS,
    categories: int = SYNTHETIC_CATEGORIES,
    seed: int = SYNTHETIC_SEED,
) -> list[Order]:
    """``count`` orders over ``SYNTHETIC_DAYS`` days, in time order (see the module's docstring)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible sample data, not security)
    skus = [f"SKU-{number:04d}" for number in range(products)]
    # The store's popularity: a Zipf long tail over a shuffled catalogue.
    by_popularity = skus[:]
    rng.shuffle(by_popularity)
    overall = list(accumulate(_zipf_weights(products, 1.0)))
    # Categories: each product in one; inside a category its own Zipf tail.
    category_of = {sku: rng.randrange(categories) for sku in skus}
    members = {c: [sku for sku in by_popularity if category_of[sku] == c] for c in range(categories)}
    within = {c: list(accumulate(_zipf_weights(len(members[c]), 0.8))) for c in range(categories)}
    missions = list(accumulate(_zipf_weights(categories, 0.7)))
    complements = {c: rng.sample([o for o in range(categories) if o != c], 2) for c in range(categories)}
    orders = []
    span = timedelta(days=SYNTHETIC_DAYS) / count
    for number in range(count):
        mission = rng.choices(range(categories), cum_weights=missions, k=1)[0]
        size = 1
        while size < 30 and rng.random() < 0.74:  # geometric: 3.8 lines on average
            size += 1
        basket: dict[str, None] = {}
        for _ in range(size):
            source = rng.random()
            if source < 0.4:
                sku = _draw(rng, by_popularity, overall)
            else:
                category = mission if source < 0.8 else rng.choice(complements[mission])
                sku = _draw(rng, members[category], within[category])
            basket[sku] = None
        placed_at = SYNTHETIC_START + span * number + timedelta(seconds=rng.randrange(60))
        orders.append(Order(f"ord_{number:05d}", placed_at, tuple(basket)))
    return orders


def write_orders(path: Path, orders: Iterable[Order]) -> None:
    """One row per line item: ``order_id,placed_at,sku``."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "placed_at", "sku"])
        for order in orders:
            for sku in order.skus:
                writer.writerow([order.order_id, order.placed_at.isoformat(), sku])


def read_orders(path: Path) -> list[Order]:
    """The orders of a CSV in either shape (see the module's docstring), in time order."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        rows = [row for row in csv.reader(file) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    if {"order_id", "sku"} <= set(header):
        return _line_items(header, rows[1:])
    start = SYNTHETIC_START
    return [
        Order(f"basket_{number:05d}", start + timedelta(minutes=number), _distinct(row))
        for number, row in enumerate(rows)
    ]


def _distinct(cells: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(cell.strip() for cell in cells if cell.strip()))


def _line_items(header: list[str], rows: list[list[str]]) -> list[Order]:
    order_at, sku_at = header.index("order_id"), header.index("sku")
    time_at = header.index("placed_at") if "placed_at" in header else None
    items: dict[str, list[str]] = {}
    placed: dict[str, datetime] = {}
    for number, row in enumerate(rows):
        order_id = row[order_at].strip()
        items.setdefault(order_id, []).append(row[sku_at])
        if order_id not in placed:
            moment = datetime.fromisoformat(row[time_at].strip()) if time_at is not None else SYNTHETIC_START
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            placed[order_id] = moment + timedelta(microseconds=number if time_at is None else 0)
    orders = [Order(order_id, placed[order_id], _distinct(skus)) for order_id, skus in items.items()]
    # A stable sort: orders placed at the same moment keep the file's order.
    return sorted(orders, key=lambda order: order.placed_at)
