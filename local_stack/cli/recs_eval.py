"""`make recs-eval [FILE=baskets.csv]`: recommendations measured offline on order history.

The history (``local_stack.cli.baskets``: a CSV, or without one the seeded synthetic store) is split by
time: the first 80 % of the orders train, the last 20 % test. Training runs the catalog function's
own learning code on each training order (``counted_skus``, ``partners``: the pair counters an order
adds 1 to; the day's sales counters; then ``top_partners`` and the best-sellers of the last
``BestsellerWindowDays`` with ``rank_bestsellers`` and ``sales``), and the rows it gives are exactly
those the send path reads. Each test order with at least two distinct SKUs is a cart: its first half
(at least one SKU) is what the email is about, the rest is what the shopper also bought. The send
path's own code (``recommend_from``: ranking, shortlist, the catalog's filter) picks three products.

- hit rate@3: the share of carts where at least one of the three is among what was also bought;
- precision@3: the share of the three slots that were also bought;
- coverage: distinct products ever recommended, as a share of the training catalogue;
- best-seller share: the share of slots filled by the training period's ten best-sellers (and by
  its top two).

Compared: ``random`` (three catalogue products, seeded), ``popularity`` (the best-sellers only),
``counts (before)`` (counts summed over the seeds, 10 partners a SKU: the ranking before this
evaluation) and the candidates (``--sweep`` lists more).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from local_stack.cli.baskets import SYNTHETIC_SEED, SYNTHETIC_START, Order, read_orders, synthetic_orders
from nudge.catalog.learning import (
    counted_skus,
    partners,
    rank_bestsellers,
    sales,
    top_partners,
    window,
)
from nudge.catalog.settings import CatalogSettings
from nudge.catalog_rows import (
    BESTSELLERS_KEY,
    TOP_PARTNERS,
    Product,
    top_key,
)
from nudge.recommendations.co_purchase import recommend_from
from nudge.recommendations.interface import RecommendationRequest
from nudge.recommendations.ranking import SHIPPED, SUMMED_COUNTS, Ranking

TRAIN_SHARE = 0.8
SLOTS = 3
CURRENCY = "USD"
BESTSELLER_WINDOW_DAYS = CatalogSettings.model_fields["bestseller_window_days"].default
BEFORE_TOP_PARTNERS = 10
"""Partners a ``top#<sku>`` row kept before this evaluation."""


@dataclass(frozen=True)
class Model:
    """The Recommendations table's rows after training, by ``model_key``, and the catalogue."""

    rows: dict[str, dict[str, Any]]
    catalogue: dict[str, Product]
    best: tuple[str, ...]
    """The training period's best-sellers, best first (for the best-seller share)."""


def split(orders: Sequence[Order], share: float = TRAIN_SHARE) -> tuple[list[Order], list[Order]]:
    """The orders before and after the moment ``share`` of them had been placed (time order kept;
    orders at that very moment all go to training)."""
    ordered = sorted(orders, key=lambda order: order.placed_at)
    if not ordered:
        return [], []
    cut = ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share) - 1))].placed_at
    return [o for o in ordered if o.placed_at <= cut], [o for o in ordered if o.placed_at > cut]


def train(orders: Sequence[Order], top_limit: int = TOP_PARTNERS) -> Model:
    """The rows the catalog function would have written after these orders."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    buckets: dict[date, Counter[str]] = defaultdict(Counter)
    for order in orders:
        skus = counted_skus(order.skus)
        for sku, others in partners(skus).items():
            counts[sku].update(others)  # ADD 1 to each p:<other> of pairs#<sku>
        buckets[order.placed_at.date()].update(skus)  # ADD 1 to each s:<sku> of sales#<day>
    last = max(buckets, default=SYNTHETIC_START.date())
    recent = [buckets[day] for day in window(last, BESTSELLER_WINDOW_DAYS) if day in buckets]
    rows: dict[str, dict[str, Any]] = {
        top_key(sku): {
            "model_key": top_key(sku),
            "partners": [p.model_dump() for p in top_partners(sku, partner_counts, top_limit)],
        }
        for sku, partner_counts in counts.items()
    }
    rows[BESTSELLERS_KEY] = {
        "model_key": BESTSELLERS_KEY,
        "skus": rank_bestsellers(recent),
        "popularity": [{"sku": sku, "orders": n} for sku, n in sales(recent)],
    }
    catalogue = {
        sku: Product(
            sku=sku,
            name=sku,
            product_url=f"https://shop.example/p/{sku}",
            price=Decimal(1),
            currency=CURRENCY,
            in_stock=True,
            updated_at=orders[0].placed_at,
        )
        for sku in sorted({sku for order in orders for sku in order.skus})
    }
    overall = [sku for sku, _ in sales(buckets.values(), limit=10)]
    return Model(rows, catalogue, tuple(overall))


@dataclass(frozen=True)
class Case:
    seeds: tuple[str, ...]
    also_bought: frozenset[str]


def cases(orders: Sequence[Order]) -> list[Case]:
    """Each order of two or more SKUs: its first half is the cart, the rest what was also bought."""
    found = []
    for order in orders:
        skus = counted_skus(order.skus)
        if len(skus) < 2:
            continue
        half = max(1, len(skus) // 2)
        found.append(Case(tuple(skus[:half]), frozenset(skus[half:])))
    return found


Recommend = Callable[[Case], list[str]]


def layer(model: Model, ranking: Ranking, *, with_partners: bool = True) -> Recommend:
    """The send path's choice after read 1, with these rows."""
    rows = model.rows if with_partners else {BESTSELLERS_KEY: model.rows[BESTSELLERS_KEY]}

    def read(skus: list[str]) -> Mapping[str, Product]:
        return {sku: model.catalogue[sku] for sku in skus if sku in model.catalogue}

    def recommend(case: Case) -> list[str]:
        request = RecommendationRequest(
            trigger="cart_abandoned",
            customer_id="offline",
            seed_skus=case.seeds,
            exclude_skus=frozenset(case.seeds),
            limit=SLOTS,
            currency=CURRENCY,
        )
        return [product.sku for product in recommend_from(rows, read, request, ranking)]

    return recommend


def coverage_greedy(training: Sequence[Order], model: Model) -> Recommend:
    """Each pick the product in most of the past baskets that hold a cart item and none of the
    earlier picks, then the best-sellers. It needs every past basket at send time (the rows hold
    pair counts only), so it is measured here as a reference, not shipped."""
    baskets = [frozenset(counted_skus(order.skus)) for order in training]
    holding: dict[str, list[int]] = defaultdict(list)
    for number, basket in enumerate(baskets):
        for sku in basket:
            holding[sku].append(number)
    best = model.rows[BESTSELLERS_KEY]["skus"]

    def recommend(case: Case) -> list[str]:
        left = [baskets[n] for n in sorted({n for sku in case.seeds for n in holding.get(sku, ())})]
        chosen: list[str] = []
        while len(chosen) < SLOTS:
            counts = Counter(sku for basket in left for sku in basket if sku not in case.seeds)
            if not counts:
                break
            pick = min(counts, key=lambda sku: (-counts[sku], sku))
            chosen.append(pick)
            left = [basket for basket in left if pick not in basket]
        fill = [sku for sku in best if sku not in case.seeds and sku not in chosen]
        return (chosen + fill)[:SLOTS]

    return recommend


def uniform(model: Model, seed: int = 7) -> Recommend:
    rng = random.Random(seed)  # noqa: S311 (reproducible sample data, not security)
    skus = sorted(model.catalogue)

    def recommend(case: Case) -> list[str]:
        return rng.sample([sku for sku in skus if sku not in case.seeds], SLOTS)

    return recommend


@dataclass
class Scores:
    name: str
    cases: int = 0
    hits: int = 0
    relevant: int = 0
    slots: int = 0
    shown: Counter[str] = field(default_factory=Counter)
    per_case: list[int] = field(default_factory=list)

    def add(self, case: Case, recommended: list[str]) -> None:
        found = len(set(recommended) & case.also_bought)
        self.cases += 1
        self.hits += found > 0
        self.per_case.append(int(found > 0))
        self.relevant += found
        self.slots += len(recommended)
        self.shown.update(recommended)

    def hit_rate(self) -> float:
        return self.hits / self.cases if self.cases else 0.0

    def precision(self) -> float:
        return self.relevant / (SLOTS * self.cases) if self.cases else 0.0

    def hit_difference(self, other: Scores) -> tuple[float, float]:
        """The hit rate's difference from ``other``'s on the same carts, and its 95 % half-width
        (paired: each cart counts once, hit or not under both)."""
        differences = [mine - theirs for mine, theirs in zip(self.per_case, other.per_case, strict=True)]
        count = len(differences)
        if count < 2:
            return 0.0, 0.0
        mean = sum(differences) / count
        variance = sum((d - mean) ** 2 for d in differences) / (count - 1)
        return mean, 1.96 * (variance / count) ** 0.5

    def coverage(self, catalogue: int) -> float:
        return len(self.shown) / catalogue if catalogue else 0.0

    def share_of(self, skus: Sequence[str]) -> float:
        return sum(self.shown[sku] for sku in skus) / self.slots if self.slots else 0.0


def evaluate(name: str, recommend: Recommend, test: Sequence[Case]) -> Scores:
    scores = Scores(name)
    for case in test:
        scores.add(case, recommend(case))
    return scores


CANDIDATES: dict[str, Ranking] = {
    "equal votes": Ranking(equal_votes=True),
    "damping 0.2": Ranking(damping=0.2),
    "damping 0.5": Ranking(damping=0.5),
    "damping 1 (cosine-like)": Ranking(damping=1.0),
}
SWEEP: dict[str, Ranking] = {
    **{f"damping {alpha:g}": Ranking(damping=alpha) for alpha in (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)},
    **{
        f"equal votes, damping {alpha:g}": Ranking(equal_votes=True, damping=alpha)
        for alpha in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    },
}


UNAVAILABLE_SHARE = 1 / 3


def with_unavailable(model: Model, share: float = UNAVAILABLE_SHARE, seed: int = 11) -> Model:
    """The same rows with a seeded ``share`` of the catalogue out of stock: what an email may not
    show for any reason (out of stock, not sold in its currency, bought lately)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible sample data, not security)
    gone = set(rng.sample(sorted(model.catalogue), int(len(model.catalogue) * share)))
    catalogue = {
        sku: product.model_copy(update={"in_stock": False}) if sku in gone else product
        for sku, product in model.catalogue.items()
    }
    return Model(model.rows, catalogue, model.best)


def partners_kept(training: Sequence[Order], test: Sequence[Case]) -> list[str]:
    """The shipped ranking with 10, 20 and 30 partners kept a SKU, with a third of the catalogue
    unavailable: how much room the top lists need."""
    lines = [
        "partners kept a SKU, with a third of the catalogue unavailable (out of stock, another currency):",
        "partners  hit@3  coverage",
    ]
    for kept in (BEFORE_TOP_PARTNERS, 20, 30):
        model = with_unavailable(train(training, top_limit=kept))
        scores = evaluate(str(kept), layer(model, SHIPPED), test)
        lines.append(f"{kept:>8}  {scores.hit_rate():.3f}  {scores.coverage(len(model.catalogue)):8.1%}")
    return lines


def run(orders: Sequence[Order], *, sweep: bool = False) -> tuple[list[Scores], Model, int, int]:
    """Every ranking's scores on the test orders, with the model trained on the rest."""
    training, testing = split(orders)
    model = train(training)
    before = train(training, top_limit=BEFORE_TOP_PARTNERS)
    test = cases(testing)
    results = [
        evaluate("random", uniform(model), test),
        evaluate("popularity (best-sellers only)", layer(model, SUMMED_COUNTS, with_partners=False), test),
        evaluate(BASELINE, layer(before, SUMMED_COUNTS), test),
    ]
    for name, ranking in (SWEEP if sweep else CANDIDATES).items():
        results.append(evaluate(name, layer(model, ranking), test))
    results.append(evaluate("coverage greedy (reference)", coverage_greedy(training, model), test))
    results.append(evaluate("shipped: " + describe(SHIPPED), layer(model, SHIPPED), test))
    return results, model, len(training), len(test)


def describe(ranking: Ranking) -> str:
    parts = [
        *(["equal votes"] if ranking.equal_votes else []),
        *([f"damping {ranking.damping:g}"] if ranking.damping else []),
    ]
    return ", ".join(parts) or "summed counts"


BASELINE = "counts (before)"


def table(results: Sequence[Scores], model: Model) -> list[str]:
    """One line per ranking; the hit rate's difference from ``counts (before)`` on the same carts."""
    catalogue = len(model.catalogue)
    before = next(s for s in results if s.name == BASELINE)
    width = max(len(scores.name) for scores in results)
    lines = [
        f"{'ranking':<{width}}  hit@3  vs before (95 %)  prec@3  coverage  top-10 share  top-2 share",
        f"{'-' * width}  -----  ----------------  ------  --------  ------------  -----------",
    ]
    for s in results:
        difference, half_width = s.hit_difference(before)
        versus = "" if s is before else f"{difference * 100:+.1f} ± {half_width * 100:.1f} pt"
        shares = f"{s.share_of(model.best):12.1%}  {s.share_of(model.best[:2]):11.1%}"
        lines.append(
            f"{s.name:<{width}}  {s.hit_rate():.3f}  {versus:>16}  {s.precision():.3f}  "
            f"{s.coverage(catalogue):8.1%}  {shares}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recs-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="order history CSV (without: the synthetic store)")
    parser.add_argument("--sweep", action="store_true", help="more candidate rankings")
    parser.add_argument("--seed", type=int, default=SYNTHETIC_SEED, help="the synthetic store's seed")
    args = parser.parse_args(argv)
    orders = read_orders(args.file) if args.file else synthetic_orders(seed=args.seed)
    source = str(args.file) if args.file else "the synthetic store (local_stack/cli/baskets.py, seeded)"
    results, model, trained, tested = run(orders, sweep=args.sweep)
    print(
        f"{len(orders)} orders from {source}; trained on the first {trained} by time, "
        f"tested on {tested} later carts of 2+ products; catalogue {len(model.catalogue)} products"
    )
    print("\n".join(table(results, model)))
    training, testing = split(orders)
    print()
    print("\n".join(partners_kept(training, cases(testing))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
