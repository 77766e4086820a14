"""Recommendations from what the store's customers buy together, in two DynamoDB reads.

Read 1 (one BatchGetItem on the model): the ``top#<sku>`` row of each seed (its most co-purchased
SKUs, materialised by the catalog function as orders are counted) and the ``bestsellers`` row.
Candidates are ranked by how often they were bought with any seed, then the best-sellers follow as
the fallback, so the block is never empty while the catalog has products.
Read 2 (one BatchGetItem on Products): the candidates' rows, to drop what is unknown to the catalog
or out of stock and to show the name, image and price.

Both reads are eventually consistent (half the price; a product that went out of stock a second
ago is no worse than one that does so after the email is sent) and never retried: keys DynamoDB
leaves unprocessed under throttling are treated as missing, so an email costs at most two reads.
"""

from __future__ import annotations

from collections import Counter

from pydantic import ValidationError

from nudge.catalog.models import BESTSELLERS_KEY, Bestsellers, Product, TopPartners, top_key
from nudge.dal.recommendation_reads import read_products, read_rows
from nudge.recommendations.interface import RecommendationRequest

# Seeds beyond these add little (a 60-item cart is rare) and would widen read 1.
MAX_SEEDS = 10
# Candidates fetched per product shown: room for out-of-stock ones and unknown SKUs.
CANDIDATES_PER_SLOT = 4
MAX_CANDIDATES = 100
"""BatchGetItem's limit on keys per call."""


class CoPurchaseRecommender:
    def __init__(self, products_table: str, model_table: str) -> None:
        self._products_table = products_table
        self._model_table = model_table

    def recommend(self, request: RecommendationRequest) -> list[Product]:
        if request.limit <= 0:
            return []
        seeds = request.seed_skus[:MAX_SEEDS]
        rows = read_rows(self._model_table, [*(top_key(sku) for sku in seeds), BESTSELLERS_KEY])
        candidates = rank_candidates(
            [_top_partners(rows.get(top_key(sku))) for sku in seeds],
            _bestsellers(rows.get(BESTSELLERS_KEY)),
            request.exclude_skus | set(seeds),
        )[: min(MAX_CANDIDATES, request.limit * CANDIDATES_PER_SLOT)]
        if not candidates:
            return []
        products = read_products(self._products_table, candidates)
        chosen = [products[sku] for sku in candidates if sku in products and products[sku].in_stock]
        return chosen[: request.limit]


def rank_candidates(
    partner_lists: list[TopPartners | None],
    bestsellers: Bestsellers | None,
    excluded: set[str] | frozenset[str],
) -> list[str]:
    """Co-purchased SKUs by their count summed over the seeds (ties by SKU), then the best-sellers in
    their order; each once, nothing excluded."""
    together: Counter[str] = Counter()
    for partners in partner_lists:
        for partner in partners.partners if partners else ():
            together[partner.sku] += partner.count
    ranked = sorted(together, key=lambda sku: (-together[sku], sku))
    fallback = bestsellers.skus if bestsellers else ()
    return [sku for sku in dict.fromkeys([*ranked, *fallback]) if sku not in excluded]


def _top_partners(row: dict[str, object] | None) -> TopPartners | None:
    try:
        return TopPartners.model_validate(row) if row else None
    except ValidationError:
        return None  # a malformed model row is no recommendation, never a failed email


def _bestsellers(row: dict[str, object] | None) -> Bestsellers | None:
    try:
        return Bestsellers.model_validate(row) if row else None
    except ValidationError:
        return None
