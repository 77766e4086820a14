"""Experiment rows and assignment: a stable hash that honours the weights and the holdout, and the
tags that carry an email's delivery record and arm through SES."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from nudge.experiments.assignment import assign
from nudge.experiments.models import Experiment
from nudge.message_tags import DeliveryRef, delivery_ref, delivery_tags, send_tags
from nudge.outcome import Decision, Outcome

TRIGGERS = {"cart_abandoned", "order_placed", "customer_lapsed"}


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "experiment_id": "cart-subject-nov",
        "trigger": "cart_abandoned",
        "status": "running",
        "holdout_percent": 10,
        "variants": [{"variant_id": "a", "weight": 70}, {"variant_id": "b", "weight": 30}],
    }
    return {**base, **changes}


def test_two_thousand_customers_split_within_four_points_of_each_weight() -> None:
    experiment = Experiment.model_validate(row(), context={"triggers": TRIGGERS})
    arms = Counter(assign(experiment, f"cus_{number:05d}").variant_id for number in range(2000))
    shares = {arm: count / 2000 * 100 for arm, count in arms.items()}
    # 10 % holdout; a and b split the other 90 % by 70/30
    assert abs(shares["holdout"] - 10) <= 4
    assert abs(shares["a"] - 90 * 0.7) <= 4
    assert abs(shares["b"] - 90 * 0.3) <= 4


def test_a_customer_always_gets_the_same_arm_and_experiments_split_independently() -> None:
    first = Experiment.model_validate(row(), context={"triggers": TRIGGERS})
    again = Experiment.model_validate(row(), context={"triggers": TRIGGERS})
    other = Experiment.model_validate(row(experiment_id="cart-offer-dec"), context={"triggers": TRIGGERS})
    ids = [f"cus_{number}" for number in range(500)]
    assert [assign(first, i).variant_id for i in ids] == [assign(again, i).variant_id for i in ids]
    assert [assign(first, i).variant_id for i in ids] != [assign(other, i).variant_id for i in ids]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"variants": [{"variant_id": "a", "weight": 50}, {"variant_id": "b", "weight": 40}]}, "variants"),
        ({"trigger": "cart"}, "trigger"),
        ({"status": "paused"}, "status"),
        ({"holdout_percent": 100}, "holdout_percent"),
        ({"variants": [{"variant_id": "holdout", "weight": 100}]}, "variants.0.variant_id"),
        ({"experiment_id": "has space"}, "experiment_id"),
    ],
)
def test_an_invalid_row_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Experiment.model_validate(row(**changes), context={"triggers": TRIGGERS})
    fields = {".".join(str(part) for part in error["loc"]) or "variants" for error in raised.value.errors()}
    assert field in fields


@pytest.mark.parametrize(
    "ref",
    [
        DeliveryRef("cus_vip_ada", "cart_abandoned#cart_7f3a#2"),
        DeliveryRef("ada@example.com", "customer_lapsed#ada@example.com@2026-01-01T00:00:00Z#run-1"),
        DeliveryRef("kunde:ü/1", "order_placed#" + "x" * 256),
    ],
)
def test_the_delivery_record_travels_losslessly_in_tags_ses_accepts(ref: DeliveryRef) -> None:
    tags = delivery_tags(ref)
    assert all(
        len(value) <= 256 and value.replace("-", "").replace("_", "").isalnum() for value in tags.values()
    )
    assert delivery_ref({name: [value] for name, value in tags.items()}) == ref


def test_an_email_in_an_experiment_carries_its_arm_in_its_tags() -> None:
    outcome = Outcome(
        trigger="cart_abandoned",
        customer_id="cus_1",
        business_id="cart_1",
        decision=Decision.SENDING,
        segment_id="vip",
        experiment_id="cart-subject-nov",
        variant_id="b",
    )
    tags = send_tags(outcome)
    assert (tags["experiment"], tags["variant"], tags["trigger"], tags["customer_id"]) == (
        "cart-subject-nov",
        "b",
        "cart_abandoned",
        "cus_1",
    )
    assert delivery_ref({k: [v] for k, v in tags.items()}) == DeliveryRef("cus_1", "cart_abandoned#cart_1")
    assert delivery_ref({"delivery": ["not base64 json!"]}) is None


def test_the_longest_ids_any_event_may_hold_fit_the_delivery_tags() -> None:
    # Given ids at the byte bound whose characters JSON escapes (a quote takes two bytes, a
    # backslash two), for the trigger whose key holds the most: a lapse of a scheduled run
    from nudge.events import MAX_ID_BYTES, CustomerLapsed

    longest = CustomerLapsed.model_validate(
        {
            "customer_id": '"' * MAX_ID_BYTES,
            "last_order_at": "2026-01-01T00:00:00.123456+00:00",
            "days_since_last_order": 90,
            "run_id": "\\" * MAX_ID_BYTES,
        }
    )
    outcome = Outcome(
        trigger="customer_lapsed",
        customer_id=longest.customer_id,
        business_id=longest.identity,
        decision=Decision.SENDING,
    )
    # Then the email's tags name its delivery record, within SES's limits
    tags = send_tags(outcome, claim_token="0" * 32)
    assert len(tags) <= 50 and all(len(value) <= 256 for value in tags.values())
    assert delivery_ref({name: [value] for name, value in tags.items()}) == DeliveryRef(
        longest.customer_id, f"customer_lapsed#{longest.identity}"
    )
