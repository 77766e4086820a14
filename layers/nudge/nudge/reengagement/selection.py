"""Who is due a win-back on a run: lapsed, emailable, and not won back recently."""

from __future__ import annotations

from datetime import datetime, timedelta

from nudge.eligibility import ineligibility
from nudge.profiles import CustomerFacts


def due_winback(
    profile: CustomerFacts, as_of: datetime, lapsed_after: timedelta, cooldown: timedelta
) -> bool:
    """A customer who never ordered has not lapsed: they get the new-customer flows instead."""
    if profile.last_order_at is None or as_of - profile.last_order_at < lapsed_after:
        return False
    if ineligibility(profile) is not None:
        return False
    return profile.last_winback_at is None or as_of - profile.last_winback_at >= cooldown
