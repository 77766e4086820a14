"""The rules a profile as read is judged by: consent and suppression, the trigger's exit rule, the
sunset policy, and the frequency cap (its check, and the send's one profile write that takes a slot)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nudge.carts import CartNote
from nudge.dal import frequency_cap
from nudge.eligibility import ineligibility
from nudge.events import TriggerDetail
from nudge.outcome import SkipReason
from nudge.profiles import Customer
from nudge.settings import Settings
from nudge.timeutil import utc_now
from nudge.triggers import Trigger


def rule_reason(
    trigger: Trigger[Any], detail: TriggerDetail, settings: Settings, customer: Customer
) -> SkipReason | None:
    """Why the profile as read says no: consent and suppression, the trigger's exit rule, the sunset
    policy."""
    return (
        ineligibility(customer)
        or trigger.exit_reason(detail, customer)
        or _sunset(trigger, customer, settings)
    )


def capped(
    trigger: Trigger[Any], detail: TriggerDetail, customer: Customer, cap: frequency_cap.Cap | None
) -> SkipReason | None:
    """``frequency_capped`` when the profile as read shows every slot taken by other emails."""
    if cap is not None and frequency_cap.is_full(customer, claimant_of(trigger, detail), utc_now(), cap):
        return SkipReason.FREQUENCY_CAPPED
    return None


def claimant_of(trigger: Trigger[Any], detail: TriggerDetail) -> str:
    return f"{trigger.name}:{trigger.business_id(detail)}"


def profile_write(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer,
    cap: frequency_cap.Cap | None,
    note: CartNote | None,
    *,
    marks: tuple[str, ...],
) -> frequency_cap.SlotResult:
    """The email's one write to the profile: its cap slot, ``marks`` and the noted cart."""
    return frequency_cap.take_send_slot(
        settings.customers_table,
        customer,
        claimant_of(trigger, detail),
        at=utc_now(),
        cap=cap,
        marks=marks,
        note=note,
    )


def _sunset(trigger: Trigger[Any], customer: Customer, settings: Settings) -> SkipReason | None:
    """``unengaged`` once the customer has neither opened nor clicked for ``SunsetAfterDays``."""
    if settings.sunset_after_days == 0 or trigger.name in settings.sunset_exempt:
        return None
    engaged_at = customer.last_engaged_at()
    if engaged_at is None or utc_now() - engaged_at < timedelta(days=settings.sunset_after_days):
        return None
    return SkipReason.UNENGAGED


def frequency_cap_for(trigger: Trigger[Any], settings: Settings) -> frequency_cap.Cap | None:
    """None when there is no cap: 0 is off, and an exempt trigger (the thank-you for an order) neither
    waits for a slot nor takes one from the marketing emails."""
    if settings.frequency_cap_emails == 0 or trigger.name in settings.frequency_cap_exempt:
        return None
    return frequency_cap.Cap(slots=settings.frequency_cap_emails, window=settings.frequency_cap_window)
