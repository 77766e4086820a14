"""The one-time schedule's name: one per event and morning, and always one Scheduler accepts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import botocore.session

from nudge.deferral import schedule_name
from nudge.triggers import TRIGGERS

MORNING = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def scheduler_name_rule() -> tuple[int, re.Pattern[str]]:
    shape = botocore.session.get_session().get_service_model("scheduler").shape_for("Name")
    return int(shape.metadata["max"]), re.compile(rf"^{shape.metadata['pattern']}$")


def test_every_triggers_longest_identity_gives_a_name_scheduler_accepts() -> None:
    longest, allowed = scheduler_name_rule()
    for trigger in TRIGGERS:
        name = schedule_name(trigger.name, "x" * 256 + "#@ /é", MORNING)
        assert len(name) <= longest and allowed.match(name), name


def test_a_duplicate_gets_the_same_name_and_another_event_or_morning_another() -> None:
    name = schedule_name("cart_abandoned", "cart_7f3a", MORNING)
    assert schedule_name("cart_abandoned", "cart_7f3a", MORNING) == name
    assert schedule_name("cart_abandoned", "cart_7f3b", MORNING) != name
    assert schedule_name("cart_abandoned", "cart_7f3a", MORNING.replace(day=24)) != name
