"""Bring an event back later: a one-time EventBridge Scheduler schedule that puts it on the
trigger's queue again, exactly as the rule delivered it, and then deletes itself.

SQS alone cannot wait a night (its delay is at most 15 minutes); a schedule can wait a year and
retries into the trigger's dead-letter queue, so a deferred email is never dropped.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from nudge.adapters.scheduler import create_one_time_schedule
from nudge.settings import DeferralSettings

# Everyone's quiet hours end on the hour: spread each morning's wave over a quarter of an hour.
SPREAD_MINUTES = 15
# Scheduler's longest retry window (a day), then the trigger's dead-letter queue.
MAX_DELIVERY_AGE_SECONDS = 86_400


def schedule_name(trigger: str, business_id: str, until: datetime) -> str:
    """One schedule per event and morning: a duplicate of a deferred event finds its twin's schedule.

    Scheduler allows 64 characters of ``[0-9a-zA-Z-_.]``; the id is hashed to fit and to keep it out
    of resource names.
    """
    digest = hashlib.sha256(business_id.encode()).hexdigest()[:24]
    return f"{trigger}-{digest}-{until.astimezone(UTC):%Y%m%dT%H%M}"


def redeliver_at(
    until: datetime, *, trigger: str, business_id: str, event_json: str, settings: DeferralSettings
) -> bool:
    """Schedule the event to arrive on the trigger's queue at ``until``. False if this event was
    already scheduled for then (a duplicate delivery at night)."""
    return _put_back(schedule_name(trigger, business_id, until), until, event_json, settings)


def step_schedule_name(trigger: str, business_id: str) -> str:
    """One schedule per series step, whenever it is created: a retry of the step before it finds
    the schedule already there (Scheduler's conflict) instead of making a second one."""
    digest = hashlib.sha256(business_id.encode()).hexdigest()[:24]
    return f"{trigger}-step-{digest}"


def deliver_step_at(
    due: datetime, *, trigger: str, business_id: str, event_json: str, settings: DeferralSettings
) -> bool:
    """Schedule a series' next step to arrive on the trigger's queue at ``due``. False if it was
    already scheduled."""
    return _put_back(step_schedule_name(trigger, business_id), due, event_json, settings)


def _put_back(name: str, at: datetime, event_json: str, settings: DeferralSettings) -> bool:
    return create_one_time_schedule(
        name=name,
        group=settings.schedule_group,
        at=at,
        window_minutes=SPREAD_MINUTES,
        queue_arn=settings.queue_arn,
        role_arn=settings.role_arn,
        body=event_json,
        dead_letter_queue_arn=settings.dead_letter_queue_arn,
        max_event_age_seconds=MAX_DELIVERY_AGE_SECONDS,
        max_retries=185,
    )
