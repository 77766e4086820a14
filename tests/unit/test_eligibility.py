"""Who may be emailed at all: consent, unsubscribe and suppression, in a defined order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nudge.eligibility import ineligibility
from nudge.outcome import SkipReason
from nudge.profiles import Customer


def customer(**overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "customer_id": "c1",
        "email": "a@example.com",
        "first_name": "A",
        "marketing_consent": True,
    }
    fields.update(overrides)
    return Customer.model_validate(fields)


def test_a_consenting_customer_may_be_emailed() -> None:
    assert ineligibility(customer()) is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"marketing_consent": False}, SkipReason.NO_CONSENT),
        ({"unsubscribed_at": datetime(2026, 1, 1, tzinfo=UTC)}, SkipReason.UNSUBSCRIBED),
        ({"suppressed_reason": "permanent_bounce"}, SkipReason.SUPPRESSED),
        # Suppression protects the sender's reputation, so it is reported even without consent.
        ({"suppressed_reason": "complaint", "marketing_consent": False}, SkipReason.SUPPRESSED),
        (
            {"unsubscribed_at": datetime(2026, 1, 1, tzinfo=UTC), "marketing_consent": False},
            SkipReason.UNSUBSCRIBED,
        ),
    ],
)
def test_customers_who_must_not_be_emailed_get_the_reason(
    overrides: dict[str, Any], reason: SkipReason
) -> None:
    assert ineligibility(customer(**overrides)) is reason
