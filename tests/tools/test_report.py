"""The report's numbers, from delivery records and experiment rows as read from the two tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from scipy import stats

from nudge.outcome import Decision
from reporting import build_report, render
from reporting.records import HOLDOUT, SEND_UNCONFIRMED, SENT, SKIPPED
from reporting.stats import MIN_CONVERSIONS, MIN_RECIPIENTS_PER_ARM, Verdict

EXPERIMENT = "cart-subject-nov"
ROW: dict[str, Any] = {
    "experiment_id": EXPERIMENT,
    "trigger": "cart_abandoned",
    "status": "running",
    "holdout_percent": 10,
    "variants": [
        {"variant_id": "a", "weight": 50, "subject": "You left something behind"},
        {"variant_id": "b", "weight": 50, "subject": "Still thinking it over?"},
    ],
}
_ids = iter(range(1_000_000))


def record(
    decision: str = SENT,
    *,
    trigger: str = "cart_abandoned",
    variant: str | None = None,
    delivered: bool = False,
    opened: bool = False,
    clicked: bool = False,
    revenue: str | None = None,
    currency: str = "EUR",
    decided_at: str = "2026-11-20T10:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    """A delivery record as read_tables returns it; revenue makes it a conversion."""
    number = next(_ids)
    item: dict[str, Any] = {
        "customer_id": f"cust_{number}",
        "delivery_key": f"{trigger}#biz_{number}",
        "business_id": f"biz_{number}",
        "trigger": trigger,
        "decision": decision,
        "segment_id": "regulars",
        "decided_at": decided_at,
        **extra,
    }
    if variant is not None:
        item |= {"experiment_id": EXPERIMENT, "variant_id": variant}
    if delivered:
        item["delivered_at"] = "2026-11-20T10:00:05Z"
    if opened:
        item |= {
            "first_opened_at": "2026-11-20T12:00:00Z",
            "opens": 1,
            "open_times": ["2026-11-20T12:00:00Z"],
        }
    if clicked:
        item |= {"first_clicked_at": "2026-11-20T12:01:00Z", "clicks": 1, "utm_content": "cta"}
    if revenue is not None:
        item |= {
            "converted_order_id": f"ord_{number}",
            "converted_at": "2026-11-21T09:00:00Z",
            "revenue": Decimal(revenue),
            "currency": currency,
        }
    return item


def holdout(**facts: Any) -> dict[str, Any]:
    return record(SKIPPED, reason="holdout", variant=HOLDOUT, **facts)


def arm(variant: str, recipients: int, conversions: int, revenue: str = "20.00") -> list[dict[str, Any]]:
    """An arm's records: the first `conversions` of them converted, each for the same revenue."""
    make = holdout if variant == HOLDOUT else lambda **facts: record(variant=variant, delivered=True, **facts)
    return [make(revenue=revenue if number < conversions else None) for number in range(recipients)]


def twelve_records() -> list[dict[str, Any]]:
    return [
        # Variant a: four sends. An open is a delivery even without its delivery event.
        record(variant="a", delivered=True, opened=True, clicked=True, revenue="40.00"),
        record(variant="a", opened=True),
        record(variant="a", delivered=True),
        record(variant="a"),
        # Variant b: two sends (a click without an open: images blocked) and one unconfirmed.
        record(variant="b", clicked=True, revenue="25.50"),
        record(variant="b", delivered=True),
        record(SEND_UNCONFIRMED, variant="b"),
        # The holdout: not emailed; one of them bought anyway.
        holdout(revenue="30.00"),
        holdout(),
        # Outside the experiment: a send converted in another currency, a frequency-capped skip.
        record(delivered=True, revenue="10.00", currency="USD"),
        record(SKIPPED, reason="frequency_capped"),
        record(trigger="order_placed", delivered=True),
    ]


GUARD: dict[str, Any] = {
    "customer_id": "cust_0",
    "delivery_key": "attribution#ord_1",
    "expires_at": 1_900_000_000,
}


def test_hand_counted_records_give_exactly_the_counts() -> None:
    report = build_report([*twelve_records(), GUARD], [ROW])

    assert report.records == 12
    cart = report.triggers["cart_abandoned"]
    assert (cart.sent, cart.unconfirmed, cart.delivered, cart.opened, cart.clicked, cart.converted) == (
        7,
        1,
        6,
        2,
        2,
        3,
    )
    assert cart.revenue == Decimal("65.50")
    assert cart.conversion_rate == pytest.approx(3 / 7)
    assert cart.revenue_per_recipient == pytest.approx(65.50 / 7)
    order = report.triggers["order_placed"]
    assert (order.sent, order.delivered, order.converted, order.revenue) == (1, 1, 0, Decimal(0))

    arms = report.experiments[EXPERIMENT].arms
    assert list(arms) == ["holdout", "a", "b"]
    assert [(a.recipients, a.sent, a.converted, a.revenue) for a in arms.values()] == [
        (2, 0, 1, Decimal("30.00")),
        (4, 4, 1, Decimal("40.00")),
        (2, 2, 1, Decimal("25.50")),
    ]
    assert (arms["a"].delivered, arms["a"].opened, arms["a"].clicked) == (3, 2, 1)
    assert (arms["b"].unconfirmed, arms["b"].delivered, arms["b"].clicked) == (1, 2, 1)


def test_the_holdout_is_the_control_when_the_experiment_has_one() -> None:
    experiment = build_report(twelve_records(), [ROW]).experiments[EXPERIMENT]

    assert experiment.control == "holdout"
    assert experiment.arms["holdout"].is_control and experiment.arms["holdout"].p_value_conversion is None
    assert experiment.arms["a"].lift == pytest.approx((1 / 4) / (1 / 2) - 1)
    assert "holdout (control)" in render(build_report(twelve_records(), [ROW]))


def test_without_a_holdout_the_control_is_the_rows_first_variant_or_the_first_by_name() -> None:
    records = arm("b", 200, 20) + arm("a", 200, 30)
    reversed_row = ROW | {"variants": [{"variant_id": "b", "weight": 1}, {"variant_id": "a", "weight": 1}]}

    assert build_report(records, [ROW]).experiments[EXPERIMENT].control == "a"
    assert build_report(records, [reversed_row]).experiments[EXPERIMENT].control == "b"
    without_row = build_report(records, []).experiments[EXPERIMENT]
    assert without_row.control == "a" and without_row.problems == ("no experiment row",)
    assert without_row.trigger == "cart_abandoned"
    assert "not a variant" not in render(build_report(records, []))
    assert "c: not a variant of the experiment's row" in render(
        build_report([*records, *arm("c", 5, 0)], [ROW])
    )


def test_a_clearly_better_variant_on_a_large_sample_is_significant() -> None:
    report = build_report(arm("a", 2_000, 100) + arm("b", 2_000, 200), [ROW])
    b = report.experiments[EXPERIMENT].arms["b"]

    assert b.p_value_conversion is not None and b.p_value_conversion < 0.001
    assert b.conversion_verdict is Verdict.SIGNIFICANT and b.revenue_verdict is Verdict.SIGNIFICANT
    assert b.lift == pytest.approx(1.0)
    assert "b vs a: conversion significant at 95 %" in render(report)


def test_equal_rates_are_no_significant_difference() -> None:
    report = build_report(arm("a", 2_000, 200) + arm("b", 2_000, 200), [ROW])
    b = report.experiments[EXPERIMENT].arms["b"]

    assert b.p_value_conversion == pytest.approx(1.0) and b.p_value_revenue == pytest.approx(1.0)
    assert b.conversion_verdict is Verdict.NOT_SIGNIFICANT and b.lift == pytest.approx(0.0)
    assert "b vs a: conversion no significant difference" in render(report)


@pytest.mark.parametrize(
    "records",
    [
        # However large the difference, an arm under the minimum is not called.
        arm("a", MIN_RECIPIENTS_PER_ARM - 1, 0) + arm("b", MIN_RECIPIENTS_PER_ARM - 1, 60),
        # Nor are two large arms with a handful of conversions between them.
        arm("a", 5_000, 0) + arm("b", 5_000, MIN_CONVERSIONS - 1),
    ],
    ids=["few recipients", "few conversions"],
)
def test_a_test_under_the_thresholds_is_too_few_recipients_to_call(records: list[dict[str, Any]]) -> None:
    report = build_report(records, [ROW])
    b = report.experiments[EXPERIMENT].arms["b"]

    assert b.conversion_verdict is Verdict.TOO_FEW and b.revenue_verdict is Verdict.TOO_FEW
    assert b.p_value_conversion is not None  # still shown
    text = render(report)
    assert "b vs a: too few recipients to call" in text
    assert f"fewer than {MIN_RECIPIENTS_PER_ARM} recipients in either arm" in text
    assert f"fewer than {MIN_CONVERSIONS} conversions in the two together" in text


def test_currencies_are_never_added_together() -> None:
    records = [
        record(variant="a", revenue="100.00", currency="EUR"),
        record(variant="a", revenue="7.00", currency="EUR"),
        record(variant="a", revenue="55.00", currency="GBP"),
        record(variant="b", revenue="1000.00", currency="JPY"),
        record(variant="b", revenue="20.00", currency="EUR"),
    ]
    report = build_report(records, [ROW])
    arms = report.experiments[EXPERIMENT].arms

    assert (report.currency, report.currency_conversions, report.all_conversions) == ("EUR", 3, 5)
    assert arms["a"].revenue == Decimal("107.00") and arms["a"].converted == 3
    assert arms["a"].revenue_per_recipient == pytest.approx(107 / 3)
    assert {code: (t.conversions, t.revenue) for code, t in arms["a"].other_currencies.items()} == {
        "GBP": (1, Decimal("55.00"))
    }
    assert report.triggers["cart_abandoned"].revenue == Decimal("127.00")
    text = render(report)
    assert "a: 1 conversion(s) in GBP (55.00 GBP), not in revenue" in text
    assert "b: 1 conversion(s) in JPY (1,000.00 JPY), not in revenue" in text
    assert "1,182" not in text and "1,127" not in text and "162" not in text


def test_the_report_is_in_the_currency_most_conversions_use() -> None:
    records = [record(revenue="5.00", currency="USD") for _ in range(3)] + [record(revenue="900.00")]
    report = build_report(records, [])

    assert report.currency == "USD" and report.triggers["cart_abandoned"].revenue == Decimal("15.00")
    assert "Revenue is in USD, the currency of 3 of 4 conversions" in render(report)


def test_guard_items_and_invalid_experiment_rows_do_not_break_it() -> None:
    rows: list[dict[str, Any]] = [
        ROW
        | {"variants": [{"variant_id": "a", "weight": "heavy"}, {"weight": 50}, "b"], "holdout_percent": 150},
        {"experiment_id": "no-variants", "trigger": "order_placed", "status": "draft", "variants": "a,b"},
        {"experiment_id": "bare"},
        {"trigger": "cart_abandoned", "status": "running"},
    ]
    items: list[dict[str, Any]] = [
        GUARD,
        {"customer_id": "c", "delivery_key": "x", "decision": None},
        *twelve_records(),
    ]
    report = build_report(items, rows)

    assert report.records == 12
    assert report.experiments[EXPERIMENT].problems == (
        "invalid row: holdout_percent",
        "invalid row: variants[0].weight",
        "invalid row: variants[1].variant_id",
        "invalid row: variants[2].variant_id",
    )
    assert report.experiments[EXPERIMENT].arms["a"].converted == 1
    assert report.experiments["no-variants"].problems == ("invalid row: variants",)
    assert report.experiments["bare"].problems == (
        "invalid row: trigger",
        "invalid row: status",
        "invalid row: variants",
    )
    text = render(report)
    assert "Experiment bare: trigger unknown, status unknown" in text
    assert "1 experiment row(s) without an experiment_id: not shown" in text


def test_an_experiment_without_records_is_shown_with_its_variants() -> None:
    report = build_report([], [ROW])

    experiment = report.experiments[EXPERIMENT]
    assert list(experiment.arms) == ["a", "b"] and experiment.arms["b"].recipients == 0
    assert experiment.arms["b"].conversion_verdict is Verdict.TOO_FEW
    text = render(report)
    assert "No conversions yet" in text and "no recipients yet" in text


def test_intervals_contain_the_estimate_and_are_scipys() -> None:
    records = [record(revenue=str(10 + number)) for number in range(20)] + [record() for _ in range(180)]
    group = build_report(records, []).triggers["cart_abandoned"]

    assert group.conversion_ci is not None and group.revenue_per_recipient_ci is not None
    assert group.conversion_rate is not None and group.conversion_rate in group.conversion_ci
    assert group.revenue_per_recipient is not None
    assert group.revenue_per_recipient in group.revenue_per_recipient_ci
    wilson = stats.binomtest(20, 200).proportion_ci(confidence_level=0.95, method="wilson")
    assert (group.conversion_ci.low, group.conversion_ci.high) == pytest.approx((wilson.low, wilson.high))
    values = [10.0 + number for number in range(20)] + [0.0] * 180
    t = stats.ttest_1samp(values, 0).confidence_interval(0.95)
    assert (group.revenue_per_recipient_ci.low, group.revenue_per_recipient_ci.high) == pytest.approx(
        (t.low, t.high)
    )


def test_the_wilson_interval_of_a_known_case() -> None:
    group = build_report(
        [record(revenue="1") for _ in range(10)] + [record() for _ in range(90)], []
    ).triggers
    interval = group["cart_abandoned"].conversion_ci

    # 10 in 100: Wilson's 95 % interval is 5.52 % to 17.44 %.
    assert interval is not None
    assert (interval.low, interval.high) == pytest.approx((0.05523, 0.17437), abs=1e-5)


def test_since_counts_only_the_records_decided_from_then() -> None:
    records = [record(decided_at="2026-10-31T23:59:59Z"), record(decided_at="2026-11-01T00:00:00Z")]
    report = build_report(records, [], since=datetime(2026, 11, 1, tzinfo=UTC))

    assert report.records == 1 and report.triggers["cart_abandoned"].sent == 1
    assert build_report(records, [], since=datetime(2026, 11, 1)).records == 1  # noqa: DTZ001 - naive is UTC
    assert "decided since 2026-11-01T00:00:00Z" in render(report)


def test_the_text_is_the_same_whatever_order_the_scan_returned() -> None:
    records = twelve_records() + arm("a", 150, 15) + arm(HOLDOUT, 120, 6)
    shuffled = records[1::2][::-1] + records[::2]

    assert render(build_report(shuffled, [ROW])) == render(build_report(records, [ROW]))


def test_columns_are_aligned() -> None:
    text = render(build_report(twelve_records() + arm("a", 1_500, 150), [ROW]))
    table = text.split(f"Experiment {EXPERIMENT}")[1].split("\n\n")[1].splitlines()
    header, rows = table[0], table[1:4]

    assert [row.split()[0] for row in rows] == ["holdout", "a", "b"]
    for column in ("recipients", "converted", "p conversion"):
        edge = header.index(column) + len(column)
        assert all(row[edge - 1] != " " and row[edge : edge + 1] in ("", " ") for row in rows[1:]), column
    assert "1,504" in rows[1] and "10.0 %" in rows[1] and "EUR [" in rows[1]


def test_the_decisions_it_counts_are_the_pipelines() -> None:
    assert {SENT, SKIPPED, SEND_UNCONFIRMED} <= {decision.value for decision in Decision}


def test_a_revenue_interval_never_reaches_below_zero() -> None:
    from reporting.stats import mean_interval

    interval = mean_interval([0.0] * 99 + [100.0])
    assert interval is not None
    assert interval.low == 0.0 and interval.high > 1.0
