"""What a recommender is asked, and what it must answer (the seam for another recommender)."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from nudge.catalog_rows import Product


class RecommendationRequest(NamedTuple):
    trigger: str
    customer_id: str
    seed_skus: tuple[str, ...]
    exclude_skus: frozenset[str]
    limit: int
    currency: str | None = None
    """The email's currency: only products with a price in it may be returned (None: any)."""


class Recommender(Protocol):
    def recommend(self, request: RecommendationRequest) -> list[Product]:
        """At most ``request.limit`` in-stock catalog products, best first, none excluded, each
        with a price in ``request.currency``."""
        ...
