"""EventBridge Scheduler's one-time schedules (``at(...)``), fired when their time comes.

moto stores schedules but never fires them. This delivers a due schedule's Input to its SQS target,
as Scheduler's universal SQS target does, then deletes the schedule if it asks for that. "Due" is
read from the process clock, so a test or the demo that moves the clock sees the morning come.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from local_stack.emulator import clients
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.stack import LocalStack
from nudge.timeutil import utc_now

_AT = re.compile(r"^at\((?P<wall>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")


@dataclass(frozen=True)
class OneTimeSchedule:
    group: str
    name: str
    due: datetime
    target_arn: str
    payload: str
    delete_after: bool


class OneTimeSchedules:
    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._scheduler = clients.scheduler(stack.region)
        self._sqs = clients.sqs(stack.region)

    def pending(self) -> list[OneTimeSchedule]:
        """Every one-time schedule of the stack's groups, soonest first."""
        found = []
        for group in self._stack.schedule_groups.values():
            for summary in self._scheduler.list_schedules(GroupName=group)["Schedules"]:
                schedule = self._scheduler.get_schedule(GroupName=group, Name=summary["Name"])
                match = _AT.match(schedule["ScheduleExpression"])
                if match is None:
                    continue
                zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
                found.append(
                    OneTimeSchedule(
                        group=group,
                        name=schedule["Name"],
                        due=datetime.fromisoformat(match["wall"]).replace(tzinfo=zone),
                        target_arn=schedule["Target"]["Arn"],
                        payload=schedule["Target"]["Input"],
                        delete_after=schedule.get("ActionAfterCompletion") == "DELETE",
                    )
                )
        return sorted(found, key=lambda schedule: schedule.due)

    def fire_due(self) -> list[OneTimeSchedule]:
        """Deliver every schedule whose time has come; returns them."""
        now = utc_now()
        fired = [schedule for schedule in self.pending() if schedule.due <= now]
        for schedule in fired:
            self._sqs.send_message(
                QueueUrl=self._stack.queue_url_of_arn(schedule.target_arn), MessageBody=schedule.payload
            )
            if schedule.delete_after:
                self._scheduler.delete_schedule(GroupName=schedule.group, Name=schedule.name)
        return fired


def deliver_deferred(
    stack: LocalStack,
    mappings: EventSourceMappings,
    move_clock_to: Callable[[datetime], None],
    on_delivered: Callable[[OneTimeSchedule], None] | None = None,
) -> list[OneTimeSchedule]:
    """Let every deferred email's morning (and every series step's time) come, earliest first: move
    the clock to the schedule's time, deliver what is due, and let the trigger functions drain their
    queues; ``on_delivered`` sees each schedule once its event has been handled."""
    schedules = OneTimeSchedules(stack)
    delivered: list[OneTimeSchedule] = []
    while pending := schedules.pending():
        move_clock_to(max(pending[0].due, utc_now()))
        fired = schedules.fire_due()
        mappings.drain()
        for schedule in fired:
            if on_delivered is not None:
                on_delivered(schedule)
        delivered += fired
    return delivered
