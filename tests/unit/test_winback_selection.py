"""Who the scheduled run selects for a win-back, and which day a run belongs to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nudge.profiles import CustomerFacts
from nudge.reengagement.models import RunRequest
from nudge.reengagement.selection import due_winback

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LAPSED_AFTER = timedelta(days=90)
COOLDOWN = timedelta(days=30)


def profile(**overrides: Any) -> CustomerFacts:
    fields: dict[str, Any] = {
        "customer_id": "c1",
        "marketing_consent": True,
        "order_count": 2,
        "last_order_at": AS_OF - timedelta(days=120),
    }
    fields.update(overrides)
    return CustomerFacts.model_validate(fields)


def test_a_lapsed_consenting_customer_is_due() -> None:
    assert due_winback(profile(), AS_OF, LAPSED_AFTER, COOLDOWN)


@pytest.mark.parametrize(("days_since_order", "due"), [(89, False), (89.99, False), (90, True), (500, True)])
def test_lapsed_means_at_least_lapsed_after_days(days_since_order: float, due: bool) -> None:
    customer = profile(last_order_at=AS_OF - timedelta(days=days_since_order))
    assert due_winback(customer, AS_OF, LAPSED_AFTER, COOLDOWN) is due


@pytest.mark.parametrize(("days_since_winback", "due"), [(0, False), (29.9, False), (30, True), (45, True)])
def test_no_second_winback_within_the_cooldown(days_since_winback: float, due: bool) -> None:
    customer = profile(last_winback_at=AS_OF - timedelta(days=days_since_winback))
    assert due_winback(customer, AS_OF, LAPSED_AFTER, COOLDOWN) is due


@pytest.mark.parametrize(
    "overrides",
    [
        {"marketing_consent": False},
        {"unsubscribed_at": AS_OF - timedelta(days=3)},
        {"suppressed_reason": "complaint"},
        {"last_order_at": None, "order_count": 0},  # never ordered: new-customer flows, not win-back
        {"last_winback_at": AS_OF + timedelta(hours=1)},  # a win-back sent after the run's as-of time
    ],
)
def test_customers_who_must_not_get_a_winback_are_not_selected(overrides: dict[str, Any]) -> None:
    assert not due_winback(profile(**overrides), AS_OF, LAPSED_AFTER, COOLDOWN)


@pytest.mark.parametrize(
    ("scheduled_time", "timezone", "run_id"),
    [
        ("2026-11-23T09:00:00Z", "UTC", "2026-11-23"),
        ("2026-11-23T23:30:00Z", "Asia/Tokyo", "2026-11-24"),  # already tomorrow in Tokyo
        ("2026-11-23T03:00:00Z", "America/Los_Angeles", "2026-11-22"),
        ("2026-11-23T17:45:00Z", "UTC", "2026-11-23"),  # a manual rerun later the same day
    ],
)
def test_a_run_is_the_store_local_date_of_its_scheduled_time(
    scheduled_time: str, timezone: str, run_id: str
) -> None:
    assert RunRequest.model_validate({"scheduled_time": scheduled_time}).run_id(timezone) == run_id
