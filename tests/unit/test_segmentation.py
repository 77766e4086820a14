"""Segment rules: boundaries, priority, the default segment, and definitions that do not validate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from local_stack.emulator.scenario import load_sample_rows
from nudge.profiles import CustomerFacts, Segment
from nudge.segmentation import SegmentDefinition, assign_segment

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SAMPLE_SEGMENTS = [Segment.model_validate(row) for row in load_sample_rows("segments")]


def profile(days_since_last_order: float | None = None, **overrides: Any) -> CustomerFacts:
    fields: dict[str, Any] = {"customer_id": "c1", "marketing_consent": True}
    if days_since_last_order is not None:
        fields["last_order_at"] = AS_OF - timedelta(days=days_since_last_order)
    fields.update(overrides)
    return CustomerFacts.model_validate(fields)


def segment(segment_id: str, rules: dict[str, Any], priority: int = 100) -> SegmentDefinition:
    return SegmentDefinition.model_validate({"segment_id": segment_id, "priority": priority, "rules": rules})


def assigned(customer: CustomerFacts, definitions: Sequence[SegmentDefinition]) -> str:
    return assign_segment(customer.facts(AS_OF), definitions)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (179.99, "default"),  # 179 whole days: not yet
        (180, "lapsed"),  # the boundary itself is inside gte
        (180.5, "lapsed"),
        (400, "lapsed"),
    ],
)
def test_gte_includes_its_boundary_in_whole_days(days: float, expected: str) -> None:
    lapsed = segment("lapsed", {"days_since_last_order": {"gte": 180}})
    assert assigned(profile(days), [lapsed]) == expected


@pytest.mark.parametrize(
    ("bounds", "value", "inside"),
    [
        ({"gt": 2}, 2, False),
        ({"gt": 2}, 3, True),
        ({"lt": 2}, 2, False),
        ({"lt": 2}, 1, True),
        ({"lte": 2}, 2, True),
        ({"gte": 2, "lte": 4}, 4, True),
        ({"gte": 2, "lte": 4}, 5, False),
    ],
)
def test_each_bound_keeps_or_excludes_its_edge(bounds: dict[str, int], value: int, inside: bool) -> None:
    definitions = [segment("matched", {"order_count": bounds})]
    assert (assigned(profile(order_count=value), definitions) == "matched") is inside


def test_all_conditions_of_a_segment_must_hold() -> None:
    returning = segment(
        "returning_lapsed", {"days_since_last_order": {"gte": 180}, "order_count": {"gte": 2}}
    )
    assert assigned(profile(200, order_count=2), [returning]) == "returning_lapsed"
    assert assigned(profile(200, order_count=1), [returning]) == "default"
    assert assigned(profile(100, order_count=5), [returning]) == "default"


def test_the_first_match_by_priority_wins_whatever_the_row_order() -> None:
    big_spender = segment("big_spender", {"total_spent": {"gte": 500}}, priority=10)
    lapsed = segment("lapsed", {"days_since_last_order": {"gte": 180}}, priority=20)
    customer = profile(365, total_spent=Decimal("900.00"), order_count=3)
    assert assigned(customer, [lapsed, big_spender]) == "big_spender"
    assert assigned(customer, [big_spender, lapsed]) == "big_spender"


def test_a_customer_who_never_ordered_matches_no_recency_rule() -> None:
    lapsed = segment("lapsed", {"days_since_last_order": {"gte": 180}})
    recent = segment("recent", {"days_since_last_order": {"lte": 30}})
    assert assigned(profile(None), [lapsed, recent]) == "default"


def test_frequency_counts_only_orders_inside_the_window() -> None:
    regular = segment("regular", {"orders_in_last_days": {"days": 90, "gte": 3}})
    dates = [AS_OF - timedelta(days=d) for d in (5, 40, 89)]
    assert assigned(profile(5, recent_order_dates=dates), [regular]) == "regular"
    older = [AS_OF - timedelta(days=d) for d in (5, 40, 91)]
    assert assigned(profile(5, recent_order_dates=older), [regular]) == "default"


def test_consent_and_engagement_can_be_rules() -> None:
    unengaged = segment(
        "unengaged", {"marketing_consent": True, "days_since_last_email": {"gte": 60}}, priority=1
    )
    emailed_long_ago = AS_OF - timedelta(days=75)
    assert assigned(profile(last_emailed_at=emailed_long_ago), [unengaged]) == "unengaged"
    assert assigned(profile(last_emailed_at=AS_OF - timedelta(days=3)), [unengaged]) == "default"
    assert assigned(profile(last_emailed_at=emailed_long_ago, marketing_consent=False), [unengaged]) == (
        "default"
    )


def test_the_default_row_never_competes_even_with_rules_that_would_match() -> None:
    default = segment("default", {"order_count": {"gte": 0}}, priority=0)
    other = segment("other", {"order_count": {"gte": 1}}, priority=50)
    assert assigned(profile(order_count=3), [default, other]) == "other"


def test_a_segment_without_rules_catches_everyone_after_it_in_priority() -> None:
    everyone = segment("everyone_else", {}, priority=999)
    vip = segment("vip", {"total_spent": {"gte": 1000}}, priority=1)
    assert assigned(profile(total_spent=Decimal(5)), [everyone, vip]) == "everyone_else"


@pytest.mark.parametrize(
    ("rules", "error_field"),
    [
        ({"days_since_last_purchase": {"gte": 10}}, "rules.days_since_last_purchase"),  # a typo
        ({"order_count": {}}, "rules.order_count"),  # no bound at all
        ({"order_count": {"gte": 5, "lte": 2}}, "rules.order_count"),  # nobody could match
        ({"order_count": {"atleast": 2}}, "rules.order_count.atleast"),
        ({"orders_in_last_days": {"gte": 2}}, "rules.orders_in_last_days.days"),  # window missing
        ({"total_spent": {"gte": "lots"}}, "rules.total_spent.gte"),
    ],
)
def test_definitions_that_cannot_mean_what_was_intended_are_rejected(
    rules: dict[str, Any], error_field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        segment("broken", rules)
    fields = {".".join(str(part) for part in e["loc"]) for e in raised.value.errors()}
    assert error_field in fields


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        (profile(20, order_count=14, total_spent=Decimal("3120.40")), "vip"),
        (profile(200, order_count=14, total_spent=Decimal("3120.40")), "lapsed"),  # a VIP who drifted
        (profile(120, order_count=3, total_spent=Decimal(150)), "at_risk"),
        (profile(120, order_count=1, total_spent=Decimal(30)), "new_customer"),
        (
            profile(
                10,
                order_count=4,
                total_spent=Decimal(300),
                recent_order_dates=[AS_OF - timedelta(days=d) for d in (10, 60, 150)],
            ),
            "frequent_buyer",
        ),
        (profile(None, order_count=0), "new_customer"),
        (profile(30, order_count=2, total_spent=Decimal(90)), "default"),
    ],
)
def test_the_sample_rfm_segments_place_typical_customers(customer: CustomerFacts, expected: str) -> None:
    assert assign_segment(customer.facts(AS_OF), SAMPLE_SEGMENTS) == expected


def test_country_and_language_come_from_the_profile_or_its_locale() -> None:
    german = segment("dach", {"country": {"in": ["de", "AT", "CH"]}, "language": {"in": ["de"]}})
    assert assigned(profile(locale="de-DE"), [german]) == "dach"
    assert assigned(profile(locale="de-CH", country="CH"), [german]) == "dach"
    # The profile's country wins over its locale's region; no locale, no language
    assert assigned(profile(locale="de-DE", country="US"), [german]) == "default"
    assert assigned(profile(country="AT"), [german]) == "default"
    outside_eu = segment("row", {"country": {"not_in": ["DE", "FR"]}})
    assert assigned(profile(locale="en-US"), [outside_eu]) == "row"
    assert assigned(profile(locale="fr-FR"), [outside_eu]) == "default"
    # A locale with a script subtag still finds its region
    assert assigned(profile(locale="zh-Hant-TW"), [segment("tw", {"country": {"in": ["TW"]}})]) == "tw"


def test_opens_and_clicks_count_within_their_window_and_recency_in_whole_days() -> None:
    clicks = tuple(AS_OF - timedelta(days=days) for days in (2, 20, 40))
    clicker = profile(recent_click_dates=clicks, last_clicked_at=clicks[0], last_opened_at=clicks[0])
    assert assigned(clicker, [segment("two", {"clicks_in_last_days": {"days": 30, "gte": 2}})]) == "two"
    assert assigned(clicker, [segment("three", {"clicks_in_last_days": {"days": 30, "gte": 3}})]) == "default"
    assert assigned(clicker, [segment("recent", {"days_since_last_click": {"lte": 2}})]) == "recent"
    assert assigned(clicker, [segment("opened", {"days_since_last_open": {"lt": 2}})]) == "default"
    # Never opened: no recency fact at all, and zero opens in any window
    assert assigned(profile(), [segment("r", {"days_since_last_open": {"gte": 0}})]) == "default"
    assert assigned(profile(), [segment("none", {"opens_in_last_days": {"days": 30, "lte": 0}})]) == "none"


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        # Clicked last week, never ordered
        (profile(recent_click_dates=(AS_OF - timedelta(days=7),)), "engaged_non_purchasers"),
        # A repeat buyer emailed for a year, no open or click in 180 days
        (
            profile(
                40,
                order_count=2,
                first_emailed_at=AS_OF - timedelta(days=365),
                recent_open_dates=(AS_OF - timedelta(days=200),),
            ),
            "unengaged",
        ),
        # The same, emailed only for a month: too early to call unengaged
        (profile(40, order_count=2, first_emailed_at=AS_OF - timedelta(days=30)), "default"),
    ],
)
def test_the_sample_engagement_segments(customer: CustomerFacts, expected: str) -> None:
    assert assigned(customer, SAMPLE_SEGMENTS) == expected


def test_a_text_rule_needs_exactly_one_list() -> None:
    with pytest.raises(ValidationError):
        segment("bad", {"country": {"in": ["DE"], "not_in": ["FR"]}})
    with pytest.raises(ValidationError):
        segment("bad", {"language": {}})


def test_a_list_or_a_single_code_is_short_for_in() -> None:
    assert assigned(profile(locale="de-AT"), [segment("dach", {"country": ["DE", "AT"]})]) == "dach"
    assert assigned(profile(locale="fr-FR"), [segment("fr", {"language": "fr"})]) == "fr"


def test_a_profile_with_only_its_last_click_still_counts_that_click() -> None:
    clicked = profile(last_clicked_at=AS_OF - timedelta(days=3))
    assert assigned(clicked, [segment("c", {"clicks_in_last_days": {"days": 30, "gte": 1}})]) == "c"
    # ...once: the same click in the history is not counted twice
    both = profile(last_clicked_at=AS_OF - timedelta(days=3), recent_click_dates=(AS_OF - timedelta(days=3),))
    assert assigned(both, [segment("two", {"clicks_in_last_days": {"days": 30, "gte": 2}})]) == "default"
