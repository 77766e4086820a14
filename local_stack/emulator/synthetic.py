"""Synthetic customer profiles for runs and benchmarks at scale: deterministic for a given seed,
with a spread of recency, frequency, spend, consent and stale segments like a real store's table."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from local_stack.emulator.scenario import load_sample_rows
from nudge.profiles import Customer
from nudge.segmentation import SegmentDefinition, assign_segment

_STALE_SEGMENTS = ("vip", "frequent_buyer", "new_customer", "at_risk", "lapsed", "default", None)


def synthetic_customers(
    count: int, as_of: datetime, seed: int = 7, *, steady_state: bool = False
) -> Iterator[Customer]:
    """Profiles as a store imports them (segments stale, few win-backs yet), or with ``steady_state``
    as a table looks after months of daily runs: segments right as of the day before (97 %), and every
    lapsed customer won back within the cooldown, one day's share of them expiring each day."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    definitions = [SegmentDefinition.model_validate(row) for row in load_sample_rows("segments")]
    for number in range(count):
        orders = rng.choices((0, 1, 2, 3, 5, 8, 14), weights=(15, 25, 20, 15, 12, 8, 5))[0]
        order_dates: list[datetime] = []
        if orders:
            # Most customers ordered recently, a long tail long ago (mean 150 days).
            days_ago = min(int(rng.expovariate(1 / 150)), 1500)
            moment = as_of - timedelta(days=days_ago, minutes=rng.randint(0, 1439))
            for _ in range(min(orders, 10)):
                order_dates.append(moment)
                moment -= timedelta(days=rng.randint(10, 90))
        roll = rng.random()
        customer = Customer(
            customer_id=f"cus_{number:07d}",
            email=f"customer{number}@example.com",
            first_name=rng.choice(("Alex", "Sam", "Kim", "Noor", "Jo", "Ana", "Lee", "Mia")),
            locale=rng.choice(("en-US", "en-GB", "de-DE", "fr-FR", "es-ES")),
            timezone=rng.choice(("America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo")),
            marketing_consent=roll > 0.12,
            unsubscribed_at=as_of - timedelta(days=40) if 0.12 < roll <= 0.16 else None,
            suppressed_reason="permanent_bounce" if 0.16 < roll <= 0.17 else None,
            segment_id=rng.choice(_STALE_SEGMENTS),
            order_count=orders,
            total_spent=Decimal(orders * rng.randint(20, 260)),
            last_order_at=order_dates[0] if order_dates else None,
            recent_order_dates=tuple(sorted(order_dates)),
            last_winback_at=as_of - timedelta(days=rng.randint(1, 60)) if rng.random() < 0.1 else None,
        )
        if steady_state:
            customer = _settled(customer, definitions, as_of, rng)
        yield customer


def _settled(
    customer: Customer, definitions: list[SegmentDefinition], as_of: datetime, rng: random.Random
) -> Customer:
    yesterday = as_of - timedelta(days=1)
    segment_id = assign_segment(customer.facts(yesterday), definitions) if rng.random() < 0.97 else None
    lapsed = customer.last_order_at is not None and as_of - customer.last_order_at >= timedelta(days=90)
    winback = yesterday - timedelta(days=rng.uniform(0, 30)) if lapsed else None
    return customer.model_copy(update={"segment_id": segment_id, "last_winback_at": winback})
