"""Recommended products for one email, behind one small interface.

The pipeline asks a ``Recommender`` for up to ``limit`` products, saying what the email is about
(``seed_skus``: the cart, the order, past purchases) and what must never be offered
(``exclude_skus``: what the email already shows and what the customer bought lately). The shipped
recommender reads the co-purchase model the catalog function learns from the store's own orders
(``co_purchase``); a store can plug in Amazon Personalize or its own service by implementing
``Recommender`` and returning it from ``recommender_for`` (see docs/recommendations.md).

Recommendations are a bonus, never a reason not to send: a recommender that fails is logged and
counted, and the email goes out without the block.
"""

from __future__ import annotations

from nudge.recommendations.co_purchase import CoPurchaseRecommender, model_keys_for
from nudge.recommendations.interface import RecommendationRequest, Recommender
from nudge.settings import Settings

__all__ = ["RecommendationRequest", "Recommender", "model_rows_for", "recommender_for"]


def recommender_for(settings: Settings) -> Recommender | None:
    """The recommender this stack is configured with; None when recommendations are off."""
    if settings.recommendations_per_email == 0:
        return None
    if settings.products_table is None or settings.recommendations_table is None:
        return None
    return CoPurchaseRecommender(settings.products_table, settings.recommendations_table)


def model_rows_for(
    settings: Settings, seed_skus: tuple[str, ...], currency: str | None
) -> tuple[str, list[str]] | None:
    """The shipped recommender's table and the rows it will read for these seeds and currency (read
    with the profile, ``nudge.dal.send_reads``); None when recommendations are off."""
    if recommender_for(settings) is None or settings.recommendations_table is None:
        return None
    return settings.recommendations_table, model_keys_for(seed_skus, currency)
