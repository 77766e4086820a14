"""The send path's ranking: counts per seed, an equal vote per cart item, mild damping of the
best-sellers, then the fallbacks; and the catalog's filter (stock, the email's currency)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nudge.catalog_rows import Partner, Product, TopPartners
from nudge.recommendations.co_purchase import (
    BESTSELLERS_PER_SLOT,
    CANDIDATES_PER_SLOT,
    choose,
    rank_candidates,
    shortlist,
)
from nudge.recommendations.ranking import SHIPPED, SUMMED_COUNTS, Ranking, ranked, seed_votes


def top(sku: str, **counts: int) -> TopPartners:
    return TopPartners(
        model_key=f"top#{sku}", partners=tuple(Partner(sku=p, count=c) for p, c in counts.items())
    )


def test_summed_counts_rank_by_the_total_over_the_seeds_then_the_fallbacks() -> None:
    lists = [top("A", X=5, Y=3), top("B", Y=3, Z=1), None]
    assert ranked(lists, [["W", "X"], ["V"]], {"Z"}, ranking=SUMMED_COUNTS) == ["Y", "X", "W", "V"]


def test_an_equal_vote_per_cart_item_keeps_a_niche_items_partners_in_view() -> None:
    # A best-seller in the cart with large counts, a niche item with small ones
    lists = [top("POPULAR", P1=90, P2=80, P3=70), top("NICHE", N1=4, N2=1)]
    assert ranked(lists, ranking=SUMMED_COUNTS)[:3] == ["P1", "P2", "P3"]
    assert ranked(lists, ranking=Ranking(equal_votes=True))[:3] == ["N1", "P1", "P2"]


def test_damping_lets_a_specific_complement_pass_a_best_seller_with_a_slightly_higher_count() -> None:
    partners = top("PASTA", MILK=12, SAUCE=10)
    popularity = {"MILK": 2000, "SAUCE": 40}
    assert ranked([partners], popularity=popularity, ranking=SUMMED_COUNTS) == ["MILK", "SAUCE"]
    assert ranked([partners], popularity=popularity, ranking=Ranking(damping=0.2)) == ["SAUCE", "MILK"]
    # A count far higher still wins: the damping is mild
    assert ranked([top("PASTA", MILK=40, SAUCE=10)], popularity=popularity, ranking=SHIPPED) == [
        "MILK",
        "SAUCE",
    ]


def test_a_partner_outside_the_popularity_list_counts_as_popular_as_its_last_entry() -> None:
    votes = seed_votes(top("A", KNOWN=8, UNKNOWN=8), {"KNOWN": 100, "HEAD": 1000}, Ranking(damping=0.5))
    assert votes["KNOWN"] == votes["UNKNOWN"] == 8 / 10
    assert seed_votes(None, {}, SHIPPED) == {}


def test_the_shipped_ranking_is_what_the_offline_evaluation_chose() -> None:
    assert Ranking(equal_votes=True, damping=0.2) == SHIPPED


def product(sku: str, currency: str = "EUR", *, in_stock: bool = True, **prices: str) -> Product:
    return Product(
        sku=sku,
        name=sku,
        product_url=f"https://shop.example/p/{sku}",
        price=Decimal(1),
        currency=currency,
        prices={code: Decimal(amount) for code, amount in prices.items()},
        in_stock=in_stock,
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_only_known_in_stock_products_with_a_price_in_the_emails_currency_are_chosen() -> None:
    catalog = {
        "EUR-ONLY": product("EUR-ONLY"),
        "SOLD-OUT": product("SOLD-OUT", "USD", in_stock=False),
        "USD": product("USD", "USD"),
        "GBP+USD": product("GBP+USD", "GBP", USD="2.00"),
        "USD-2": product("USD-2", "USD"),
    }
    candidates = ["UNKNOWN", "EUR-ONLY", "SOLD-OUT", "USD", "GBP+USD", "USD-2"]
    assert [p.sku for p in choose(candidates, catalog, "USD", 2)] == ["USD", "GBP+USD"]
    assert [p.sku for p in choose(candidates, catalog, None, 2)] == ["EUR-ONLY", "USD"]


def test_the_shortlist_always_holds_some_of_the_currencys_best_sellers() -> None:
    # Co-purchases enough to fill the shortlist, none of them sold in the email's currency
    candidates = [f"C{n:02d}" for n in range(40)] + ["M1", "M2", "M3", "M4", "M5", "M6", "M7"]
    market = ["M1", "M2", "M3", "M4", "M5", "M6", "M7"]
    listed = shortlist(candidates, market, 3)
    assert listed[: 3 * CANDIDATES_PER_SLOT] == candidates[: 3 * CANDIDATES_PER_SLOT]
    assert listed[3 * CANDIDATES_PER_SLOT :] == market[: 3 * BESTSELLERS_PER_SLOT]
    # An excluded best-seller (not among the candidates) is never read
    assert "M1" not in shortlist(candidates[:40], ["M1"], 3)


def test_rank_candidates_puts_the_currencys_best_sellers_before_every_currencys() -> None:
    from nudge.catalog_rows import Bestsellers

    market = Bestsellers(model_key="bestsellers#GBP", skus=("G1", "G2"))
    ranked_skus = rank_candidates([top("S", P=1)], market, {"G2"}, fallback=["E1", "G1"])
    assert ranked_skus == ["P", "G1", "E1"]
