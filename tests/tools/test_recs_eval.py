"""`make recs-eval`: the split by time, the carts it tests, its metrics, the training through the
catalog function's own code, the CSV shapes it reads, and the demo's check of what emails show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from babel import Locale

from local_stack.cli.baskets import Order, read_orders, synthetic_orders, write_orders
from local_stack.cli.recs_eval import (
    SLOTS,
    Case,
    Scores,
    cases,
    layer,
    split,
    train,
)
from local_stack.cli.shown_products import Shown, verdict
from nudge.catalog_rows import BESTSELLERS_KEY, Product, top_key
from nudge.recommendations.ranking import SHIPPED, SUMMED_COUNTS

START = datetime(2026, 1, 1, tzinfo=UTC)


def order(number: int, *skus: str, minutes: int | None = None) -> Order:
    return Order(f"o{number}", START + timedelta(minutes=number if minutes is None else minutes), skus)


def test_the_split_is_by_time_and_orders_at_the_cut_train() -> None:
    orders = [order(n, "A") for n in (4, 0, 3, 1, 2, 9, 8, 7, 6, 5)]
    training, testing = split(orders, share=0.8)
    assert [o.order_id for o in training] == [f"o{n}" for n in range(8)]
    assert [o.order_id for o in testing] == ["o8", "o9"]
    # Two orders at the same moment at the cut both train: nothing later is seen in training
    tied = [order(0, "A"), order(1, "B", minutes=5), order(2, "C", minutes=5), order(3, "D", minutes=9)]
    training, testing = split(tied, share=0.5)
    assert [o.order_id for o in training] == ["o0", "o1", "o2"] and [o.order_id for o in testing] == ["o3"]
    assert split([]) == ([], [])


def test_a_test_order_is_a_cart_of_its_first_half_and_what_else_was_bought() -> None:
    found = cases([order(0, "A"), order(1, "A", "B"), order(2, "A", "B", "C", "C"), order(3, *"ABCDE")])
    assert found == [
        Case(("A",), frozenset({"B"})),
        Case(("A",), frozenset({"B", "C"})),
        Case(("A", "B"), frozenset({"C", "D", "E"})),
    ]


def test_the_metrics() -> None:
    scores = Scores("x")
    scores.add(Case(("A",), frozenset({"B", "C"})), ["B", "C", "D"])  # 2 of 3 relevant
    scores.add(Case(("A",), frozenset({"E"})), ["B", "D", "F"])  # a miss
    assert scores.hit_rate() == 0.5
    assert scores.precision() == 2 / (SLOTS * 2)
    assert scores.coverage(catalogue=8) == 4 / 8  # B, C, D, F
    assert scores.share_of(["B"]) == 2 / 6
    other = Scores("y")
    other.add(Case(("A",), frozenset({"B", "C"})), ["X", "Y", "Z"])
    other.add(Case(("A",), frozenset({"E"})), ["X", "Y", "Z"])
    difference, half_width = scores.hit_difference(other)
    assert difference == 0.5 and half_width > 0


def test_training_writes_the_rows_the_send_path_reads_with_the_catalog_functions_code() -> None:
    orders = [order(0, "A", "B"), order(1, "A", "B"), order(2, "A", "C"), order(3, "D")]
    model = train(orders)
    assert model.rows[top_key("A")]["partners"] == [{"sku": "B", "count": 2}, {"sku": "C", "count": 1}]
    assert top_key("D") not in model.rows or model.rows[top_key("D")]["partners"] == []
    assert model.rows[BESTSELLERS_KEY]["skus"][:2] == ["A", "B"]
    assert model.rows[BESTSELLERS_KEY]["popularity"][0] == {"sku": "A", "orders": 3}
    # The send path's own choice: co-purchases first, then the best-sellers; the seed never
    recommend = layer(model, SUMMED_COUNTS)
    assert recommend(Case(("A",), frozenset())) == ["B", "C", "D"]
    assert layer(model, SHIPPED)(Case(("D",), frozenset()))[:2] == ["A", "B"]


def test_both_csv_shapes_are_read_in_time_order(tmp_path: Path) -> None:
    items = tmp_path / "items.csv"
    items.write_text(
        "order_id,placed_at,sku\n"
        "o2,2026-01-02T10:00:00+00:00,C\n"
        "o1,2026-01-01T10:00:00,A\n"
        "o1,2026-01-01T10:00:00,B\n"
        "o1,2026-01-01T10:00:00,A\n"
    )
    assert [(o.order_id, o.skus) for o in read_orders(items)] == [("o1", ("A", "B")), ("o2", ("C",))]
    baskets = tmp_path / "groceries.csv"
    baskets.write_text(
        "citrus fruit,semi-finished bread,margarine\ntropical fruit,yogurt,coffee\n\nwhole milk\n"
    )
    read = read_orders(baskets)
    assert [o.skus for o in read] == [
        ("citrus fruit", "semi-finished bread", "margarine"),
        ("tropical fruit", "yogurt", "coffee"),
        ("whole milk",),
    ]
    assert read[0].placed_at < read[1].placed_at < read[2].placed_at


def test_the_synthetic_store_is_the_same_for_the_same_seed_and_has_a_long_tail(tmp_path: Path) -> None:
    first, again, other = synthetic_orders(500), synthetic_orders(500), synthetic_orders(500, seed=1)
    assert first == again and first != other
    counts: dict[str, int] = {}
    for placed in first:
        for sku in placed.skus:
            counts[sku] = counts.get(sku, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    assert ranked[0] > 10 * ranked[len(ranked) // 2]  # a head far above the median product
    write_orders(tmp_path / "orders.csv", first)
    assert read_orders(tmp_path / "orders.csv") == first


def test_the_demos_check_refuses_a_product_in_another_currency_or_language() -> None:
    bulb = Product(
        sku="SKU-BULB-01",
        name="Bombilla LED",
        names={"de": "LED-Glühbirne"},
        product_url="https://shop.example/p/SKU-BULB-01",
        price=Decimal("7.10"),
        currency="EUR",
        prices={"GBP": Decimal("6.20")},
        in_stock=True,
        updated_at=START,
    )
    german = Locale.parse("de_DE")
    assert verdict(Shown("SKU-BULB-01", "LED-Glühbirne", "7,10\xa0€"), bulb, "EUR", german, "de") is None
    assert verdict(Shown("SKU-BULB-01", "Bombilla LED", "7,10\xa0€"), bulb, "EUR", german, "de")
    assert verdict(Shown("SKU-BULB-01", "LED-Glühbirne", "7,10\xa0€"), bulb, "USD", german, "de")
    assert verdict(Shown("SKU-BULB-01", "LED-Glühbirne", "7,10\xa0€"), None, "EUR", german, "de")
