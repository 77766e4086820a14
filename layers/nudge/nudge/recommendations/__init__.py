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

from nudge.dal.send_reads import RowsToRefresh
from nudge.recommendations.co_purchase import CoPurchaseRecommender, last_shortlist, model_keys_for
from nudge.recommendations.interface import RecommendationRequest, Recommender
from nudge.settings import Settings

__all__ = ["RecommendationRequest", "Recommender", "recommender_for", "rows_to_refresh"]


def recommender_for(settings: Settings) -> Recommender | None:
    """The recommender this stack is configured with; None when recommendations are off."""
    if settings.recommendations_per_email == 0:
        return None
    if settings.products_table is None or settings.recommendations_table is None:
        return None
    return CoPurchaseRecommender(settings.products_table, settings.recommendations_table)


def rows_to_refresh(settings: Settings, seed_skus: tuple[str, ...], currency: str | None) -> RowsToRefresh:
    """What a send with these seeds reads with the profile when this container's copies expired:
    the segments, the shipped recommender's model rows, and the catalog rows the last email with
    the same seeds read (``nudge.dal.send_reads``)."""
    if recommender_for(settings) is None or settings.recommendations_table is None:
        return RowsToRefresh(settings.segments_table)
    return RowsToRefresh(
        settings.segments_table,
        model_table=settings.recommendations_table,
        model_keys=model_keys_for(seed_skus, currency),
        products_table=settings.products_table,
        product_skus=last_shortlist(seed_skus, currency),
    )
