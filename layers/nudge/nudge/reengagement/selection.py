"""Who is due a win-back on a run: lapsed, emailable, and not won back recently."""

from __future__ import annotations

from datetime import datetime, timedelta

from nudge.eligibility import ineligibility
from nudge.events import CustomerLapsed
from nudge.profiles import CustomerFacts
from nudge.segmentation import whole_days_between


def due_winback(
    profile: CustomerFacts, as_of: datetime, lapsed_after: timedelta, cooldown: timedelta
) -> bool:
    """Lapsed, emailable, and no win-back within ``cooldown`` (``last_winback_at`` is a send mark:
    the profile must carry its send state)."""
    if not lapsed_and_emailable(profile, as_of, lapsed_after):
        return False
    return profile.last_winback_at is None or as_of - profile.last_winback_at >= cooldown


def lapsed_and_emailable(profile: CustomerFacts, as_of: datetime, lapsed_after: timedelta) -> bool:
    """A customer who never ordered has not lapsed: they get the new-customer flows instead."""
    if profile.last_order_at is None or as_of - profile.last_order_at < lapsed_after:
        return False
    return ineligibility(profile) is None


def winback_detail(profile: CustomerFacts, as_of: datetime, run_id: str) -> CustomerLapsed:
    """The Customer Lapsed event a run publishes for a customer ``due_winback`` selected."""
    if profile.last_order_at is None:
        raise ValueError("a customer who never ordered has not lapsed")
    return CustomerLapsed(
        customer_id=profile.customer_id,
        last_order_at=profile.last_order_at,
        days_since_last_order=whole_days_between(profile.last_order_at, as_of) or 0,
        run_id=run_id,
    )
