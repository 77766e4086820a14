"""EventBridge Scheduler: one-time schedules that put an event on an SQS queue later."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

from nudge.adapters import clients


def create_one_time_schedule(
    *,
    name: str,
    group: str,
    at: datetime,
    window_minutes: int,
    queue_arn: str,
    role_arn: str,
    body: str,
    dead_letter_queue_arn: str,
    max_event_age_seconds: int,
    max_retries: int,
) -> bool:
    """A schedule that sends ``body`` to the queue once, within ``window_minutes`` after ``at``, and
    then deletes itself. False if a schedule of that name already exists (Scheduler's conflict)."""
    try:
        clients.scheduler().create_schedule(
            Name=name,
            GroupName=group,
            ScheduleExpression=f"at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": window_minutes},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": queue_arn,
                "RoleArn": role_arn,
                "Input": body,
                "DeadLetterConfig": {"Arn": dead_letter_queue_arn},
                "RetryPolicy": {
                    "MaximumEventAgeInSeconds": max_event_age_seconds,
                    "MaximumRetryAttempts": max_retries,
                },
            },
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConflictException":
            return False
        raise
    return True
