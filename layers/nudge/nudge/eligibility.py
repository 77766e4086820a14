"""Whether a customer may receive marketing email at all, before any trigger-specific exit rule."""

from __future__ import annotations

from nudge.outcome import SkipReason
from nudge.profiles import CustomerFacts


def ineligibility(customer: CustomerFacts) -> SkipReason | None:
    """The first reason not to email this customer, or None when they may be emailed.

    Suppression comes first because it protects the sender's reputation regardless of consent.
    """
    if customer.erasure_requested_at is not None:
        return SkipReason.UNKNOWN_CUSTOMER  # being forgotten: as if already gone
    if customer.suppressed_reason:
        return SkipReason.SUPPRESSED
    if customer.unsubscribed_at is not None:
        return SkipReason.UNSUBSCRIBED
    if not customer.marketing_consent:
        return SkipReason.NO_CONSENT
    return None
