"""Bring an event back later: a one-time EventBridge Scheduler schedule that puts it on the
trigger's queue again, exactly as the rule delivered it, and then deletes itself.

SQS alone cannot wait a night (its delay is at most 15 minutes); a schedule can wait a year and
retries into the trigger's dead-letter queue, so a deferred email is never dropped.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from nudge import aws
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
    try:
        aws.scheduler().create_schedule(
            Name=schedule_name(trigger, business_id, until),
            GroupName=settings.schedule_group,
            ScheduleExpression=f"at({until.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": SPREAD_MINUTES},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": settings.queue_arn,
                "RoleArn": settings.role_arn,
                "Input": event_json,
                "DeadLetterConfig": {"Arn": settings.dead_letter_queue_arn},
                "RetryPolicy": {
                    "MaximumEventAgeInSeconds": MAX_DELIVERY_AGE_SECONDS,
                    "MaximumRetryAttempts": 185,
                },
            },
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConflictException":
            return False
        raise
    return True
