"""Recommendations from what the store's customers buy together, in two DynamoDB reads.

Read 1 (one BatchGetItem on the model): the ``top#<sku>`` row of each seed (its most co-purchased
SKUs, materialised by the catalog function as orders are counted), the best-sellers of the email's
currency (``bestsellers#<currency>``) and the ``bestsellers`` row (every currency, with the order
counts the ranking damps by). Candidates are ranked by ``nudge.recommendations.ranking``, then the
best-sellers follow as the fallback, so the block is never empty while the catalog has products in
the email's currency.
Read 2 (one BatchGetItem on Products): the candidates' rows, to drop what is unknown to the catalog,
out of stock or not sold in the email's currency, and to show the name, image and price.

Both reads are eventually consistent (half the price; a product that went out of stock a second
ago is no worse than one that does so after the email is sent) and never retried: keys DynamoDB
leaves unprocessed under throttling are treated as missing, so an email costs at most two reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence, Set

from pydantic import ValidationError

from nudge.catalog_rows import (
    BESTSELLERS_KEY,
    Bestsellers,
    Product,
    TopPartners,
    bestsellers_key,
    top_key,
)
from nudge.dal.recommendation_reads import read_products, read_rows
from nudge.recommendations.interface import RecommendationRequest
from nudge.recommendations.ranking import SHIPPED, Ranking, ranked

# Seeds beyond these add little (a 60-item cart is rare) and would widen read 1.
MAX_SEEDS = 10
# Candidates fetched per product shown: room for out-of-stock ones, unknown SKUs and co-purchases
# not sold in the email's currency.
CANDIDATES_PER_SLOT = 4
# The currency's best-sellers always fetched besides, per product shown: co-purchases that are all
# priced in other currencies still leave a full block.
BESTSELLERS_PER_SLOT = 2
MAX_CANDIDATES = 100
"""BatchGetItem's limit on keys per call."""


class CoPurchaseRecommender:
    def __init__(self, products_table: str, model_table: str) -> None:
        self._products_table = products_table
        self._model_table = model_table

    def recommend(self, request: RecommendationRequest) -> list[Product]:
        if request.limit <= 0:
            return []
        keys = model_keys(request)
        rows = read_rows(self._model_table, keys)

        def read(skus: list[str]) -> Mapping[str, Product]:
            _shortlisted.remember(tuple(keys), skus)
            return read_products(self._products_table, skus)

        return recommend_from(rows, read, request)


class _Shortlists:
    """The catalog rows read for each set of model rows lately (bounded): a warm container reads
    them again with the next profile of the same cart once their minute has passed."""

    def __init__(self, max_entries: int = 2_000) -> None:
        self._lists: dict[tuple[str, ...], list[str]] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def remember(self, keys: tuple[str, ...], skus: list[str]) -> None:
        with self._lock:
            self._lists.pop(keys, None)
            self._lists[keys] = list(skus)
            while len(self._lists) > self._max_entries:
                del self._lists[next(iter(self._lists))]

    def last(self, keys: tuple[str, ...]) -> list[str]:
        with self._lock:
            return list(self._lists.get(keys, ()))


_shortlisted = _Shortlists()


def last_shortlist(seed_skus: Sequence[str], currency: str | None) -> list[str]:
    """The SKUs whose catalog rows the last email with these seeds and currency read."""
    return _shortlisted.last(tuple(model_keys_for(seed_skus, currency)))


def model_keys(request: RecommendationRequest) -> list[str]:
    """Read 1's keys: the seeds' top lists, the currency's best-sellers, every currency's."""
    return model_keys_for(request.seed_skus, request.currency)


def model_keys_for(seed_skus: Sequence[str], currency: str | None) -> list[str]:
    market = [bestsellers_key(currency)] if currency else []
    return [*(top_key(sku) for sku in seed_skus[:MAX_SEEDS]), *market, BESTSELLERS_KEY]


def recommend_from(
    rows: Mapping[str, Mapping[str, object]],
    read: Callable[[list[str]], Mapping[str, Product]],
    request: RecommendationRequest,
    ranking: Ranking = SHIPPED,
) -> list[Product]:
    """The products for ``request`` from the model's rows (by ``model_key``) and ``read`` (the
    catalog rows of the SKUs it is given): what the send path does after read 1, and what the
    offline evaluation runs."""
    seeds = request.seed_skus[:MAX_SEEDS]
    everywhere = _bestsellers(rows.get(BESTSELLERS_KEY))
    in_market = _bestsellers(rows.get(bestsellers_key(request.currency))) if request.currency else None
    candidates = shortlist(
        rank_candidates(
            [_top_partners(rows.get(top_key(sku))) for sku in seeds],
            in_market,
            request.exclude_skus | set(seeds),
            fallback=everywhere.skus if everywhere else (),
            popularity=everywhere.orders if everywhere else None,
            ranking=ranking,
        ),
        in_market.skus if in_market else (),
        request.limit,
    )
    if not candidates:
        return []
    return choose(candidates, read(candidates), request.currency, request.limit)


def rank_candidates(
    partner_lists: list[TopPartners | None],
    bestsellers: Bestsellers | None,
    excluded: Set[str],
    *,
    fallback: Iterable[str] = (),
    popularity: Mapping[str, int] | None = None,
    ranking: Ranking = SHIPPED,
) -> list[str]:
    """Co-purchased SKUs in the ranking's order, then the best-sellers in their order, then
    ``fallback``; each once, nothing excluded."""
    return ranked(
        partner_lists,
        [bestsellers.skus if bestsellers else (), fallback],
        excluded,
        popularity,
        ranking,
    )


def shortlist(candidates: Sequence[str], bestsellers: Iterable[str], limit: int) -> list[str]:
    """The SKUs whose catalog rows are read: the best ``CANDIDATES_PER_SLOT`` per product shown,
    and the first ``BESTSELLERS_PER_SLOT`` per product of the currency's best-sellers among the
    candidates (at most 100)."""
    chosen = list(candidates[: limit * CANDIDATES_PER_SLOT])
    allowed = set(candidates)
    market = [sku for sku in bestsellers if sku in allowed][: limit * BESTSELLERS_PER_SLOT]
    return list(dict.fromkeys([*chosen, *market]))[:MAX_CANDIDATES]


def choose(
    candidates: Sequence[str], products: Mapping[str, Product], currency: str | None, limit: int
) -> list[Product]:
    """The first ``limit`` candidates the catalog knows, in stock and with a price in ``currency``."""
    chosen = []
    for sku in candidates:
        product = products.get(sku)
        if product is None or not product.in_stock:
            continue
        if currency is not None and product.price_in(currency) is None:
            continue
        chosen.append(product)
        if len(chosen) == limit:
            break
    return chosen


def _top_partners(row: Mapping[str, object] | None) -> TopPartners | None:
    try:
        return TopPartners.model_validate(row) if row else None
    except ValidationError:
        return None  # a malformed model row is no recommendation, never a failed email


def _bestsellers(row: Mapping[str, object] | None) -> Bestsellers | None:
    try:
        return Bestsellers.model_validate(row) if row else None
    except ValidationError:
        return None
