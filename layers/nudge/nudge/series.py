"""The steps after a series' first: the cart reminders at ``CartReminderHours``.

When a step is decided (sent or skipped; a deferral is not a decision yet), the next step is
scheduled: a one-time EventBridge Scheduler schedule, as quiet hours use, that puts the same event
with the next ``step`` on the trigger's queue. The step is then decided from scratch like any
event: consent, suppression, unsubscribe, orders, cap and quiet hours are checked again.

A skip that ends the series (the customer ordered, abandoned a newer cart, is unknown, or the event
is too old) schedules nothing and records every remaining step as skipped with the same reason, so
the delivery log says what became of the whole series.

This runs after the step's decision is recorded, also when a retry finds it already recorded: a
crash between the two schedules the next step on the retry. A schedule's name is derived from the
step alone, so a second attempt meets Scheduler's conflict and creates nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from nudge import deferral
from nudge.dal.deliveries import record_decision
from nudge.envelopes import EventBridgeModel
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.settings import Settings
from nudge.timeutil import utc_now
from nudge.triggers import Trigger

ENDS_SERIES = frozenset(
    {
        SkipReason.ORDERED_SINCE,
        SkipReason.SUPERSEDED,
        SkipReason.UNKNOWN_CUSTOMER,
        SkipReason.EVENT_TOO_OLD,
    }
)
# Scheduler refuses a time in the past: a step already due goes out this soon instead.
SOONEST = timedelta(minutes=1)
# Past the frequency cap's window after the step before, so the series never caps itself.
CAP_MARGIN = timedelta(minutes=5)


def after_decision(
    trigger: Trigger[Any], event: EventBridgeModel, outcome: Outcome, settings: Settings
) -> None:
    series = trigger.series
    if series is None or not outcome.decision.is_final:
        return
    detail = event.detail
    hours = series.hours(settings)
    later_steps = range(series.step(detail) + 1, len(hours) + 1)
    if not later_steps:
        return
    if outcome.reason in ENDS_SERIES:
        for step in later_steps:
            _record_skipped(trigger, series.with_step(detail, step), outcome, settings)
        return
    step = later_steps[0]
    next_detail = series.with_step(detail, step)
    due = _due(series.started_at(detail) + timedelta(hours=hours[step - 1]), trigger, outcome, settings)
    deferral.deliver_step_at(
        due,
        trigger=trigger.name,
        business_id=trigger.business_id(next_detail),
        event_json=event.model_copy(update={"detail": next_detail}).model_dump_json(
            by_alias=True, exclude_none=True
        ),
        settings=settings.deferral,
    )


def _due(planned: datetime, trigger: Trigger[Any], outcome: Outcome, settings: Settings) -> datetime:
    due = max(planned, utc_now() + SOONEST)
    capped = settings.frequency_cap_emails > 0 and trigger.name not in settings.frequency_cap_exempt
    if capped and settings.frequency_cap_emails == 1 and outcome.decision is Decision.SENT:
        # With one email per window, "24 hours after abandoned_at" would fall inside the window of
        # the reminder sent an hour after it: the step waits for the window instead of being capped.
        due = max(due, utc_now() + settings.frequency_cap_window + CAP_MARGIN)
    return due


def _record_skipped(trigger: Trigger[Any], detail: Any, ended: Outcome, settings: Settings) -> None:
    skipped = Outcome(
        trigger=trigger.name,
        customer_id=detail.customer_id,
        business_id=trigger.business_id(detail),
        decision=Decision.SKIPPED,
        reason=ended.reason,
        segment_id=ended.segment_id,
    )
    # Conditional: a step already decided keeps its decision.
    record_decision(settings.deliveries_table, skipped, utc_now(), settings.delivery_record_retention)
