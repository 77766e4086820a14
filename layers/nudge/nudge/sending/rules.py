"""The rules a profile as read is judged by: consent and suppression, the trigger's exit rule, the
sunset policy, and the frequency cap (its check, and the send's one write that takes a slot)."""

from __future__ import annotations

from datetime import datetime, timedelta

from nudge.dal import frequency_cap
from nudge.eligibility import ineligibility
from nudge.outcome import SkipReason
from nudge.profiles import Customer
from nudge.sending.case import EmailCase
from nudge.settings import Settings
from nudge.timeutil import utc_now


def rule_reason(case: EmailCase, customer: Customer) -> SkipReason | None:
    """Why the profile as read says no: consent and suppression, the trigger's exit rule, the sunset
    policy."""
    return (
        ineligibility(customer) or case.trigger.exit_reason(case.detail, customer) or _sunset(case, customer)
    )


def capped(case: EmailCase, customer: Customer) -> SkipReason | None:
    """``frequency_capped`` when the profile as read shows every slot taken by other emails."""
    if case.cap is not None and frequency_cap.is_full(customer, case.claimant, utc_now(), case.cap):
        return SkipReason.FREQUENCY_CAPPED
    return None


def send_write(case: EmailCase, customer: Customer, *, marks: tuple[str, ...]) -> frequency_cap.SlotResult:
    """The email's one write, to the customer's send state (never the profile): its cap slot,
    ``marks`` and the noted cart."""
    settings = case.settings
    now = utc_now()
    return frequency_cap.take_send_slot(
        settings.deliveries_table,
        customer,
        case.claimant,
        at=now,
        cap=case.cap,
        marks=marks,
        note=case.note,
        expires_at=send_state_expiry(settings, now),
    )


def send_state_expiry(settings: Settings, at: datetime) -> int:
    """The send state outlives its last write as long as a delivery record does."""
    return int((at + settings.delivery_record_retention).timestamp())


def _sunset(case: EmailCase, customer: Customer) -> SkipReason | None:
    """``unengaged`` once the customer has neither opened nor clicked for ``SunsetAfterDays``."""
    settings = case.settings
    if settings.sunset_after_days == 0 or case.trigger.name in settings.sunset_exempt:
        return None
    engaged_at = customer.last_engaged_at()
    if engaged_at is None or utc_now() - engaged_at < timedelta(days=settings.sunset_after_days):
        return None
    return SkipReason.UNENGAGED
