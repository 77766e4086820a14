"""How candidates are ranked, as pure functions: the send path and the offline evaluation
(``make recs-eval``) call the same code.

The inputs are what the send path's first read returns: the ``top#<sku>`` row of each seed (its most
co-purchased SKUs with their counts), the best-sellers of the email's currency, and how many orders
held each of the store's most popular SKUs (``Bestsellers.popularity``). A ``Ranking`` says how the
co-purchase counts become one order:

- ``equal_votes``: each seed's counts are divided by that seed's total, so every item of a cart
  weighs the same, whether it is a best-seller with large counts or a niche item with small ones;
- ``damping``: a count is divided by the candidate's popularity to the power ``damping``
  (0: counts as they are; 1: a cosine-like normalisation that favours rarities). A mild value keeps
  the best-sellers that really go with the seed and lets specific complements through. SKUs outside
  the popularity list count as popular as its least popular entry (they are less popular still: they
  gain a little less than their true popularity would give, never more).

After the co-purchases come the fallbacks (the best-sellers), each SKU once, nothing excluded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import NamedTuple

from nudge.catalog_rows import TopPartners


class Ranking(NamedTuple):
    equal_votes: bool = False
    damping: float = 0.0


SUMMED_COUNTS = Ranking()
"""Counts summed over the seeds, most first: the ranking before the offline evaluation."""
SHIPPED = Ranking(equal_votes=True, damping=0.2)
"""The ranking the send path uses (chosen with ``make recs-eval``: docs/personalization.md)."""


def seed_votes(
    partners: TopPartners | None, popularity: Mapping[str, int], ranking: Ranking
) -> dict[str, float]:
    """One seed's score for each of its partners."""
    if partners is None or not partners.partners:
        return {}
    floor = min(popularity.values(), default=1)
    scores = {
        partner.sku: partner.count / max(popularity.get(partner.sku, floor), 1) ** ranking.damping
        for partner in partners.partners
    }
    if ranking.equal_votes:
        total = sum(scores.values())
        scores = {sku: score / total for sku, score in scores.items()}
    return scores


def ranked(
    partner_lists: Sequence[TopPartners | None],
    fallbacks: Sequence[Iterable[str]] = (),
    excluded: Set[str] = frozenset(),
    popularity: Mapping[str, int] | None = None,
    ranking: Ranking = SHIPPED,
) -> list[str]:
    """The co-purchased SKUs in the ranking's order (ties by SKU), then each fallback list in its
    order; each SKU once, nothing excluded."""
    votes = [seed_votes(partners, popularity or {}, ranking) for partners in partner_lists]
    total: dict[str, float] = {}
    for seed in votes:
        for sku, score in seed.items():
            total[sku] = total.get(sku, 0.0) + score
    together = sorted(total, key=lambda sku: (-total[sku], sku))
    everything = dict.fromkeys([*together, *(sku for fallback in fallbacks for sku in fallback)])
    return [sku for sku in everything if sku not in excluded]
