"""Quiet hours end to end: an email that would land at night waits for the customer's morning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.one_time_schedules import OneTimeSchedules, deliver_deferred
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import dead_lettered_details, put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_customer, put_customer
from nudge.outcome import Decision, SkipReason
from tests.conftest import sent_emails

ADA = "cus_vip_ada"


@pytest.fixture
def stack(moto: MotoEndpoint) -> LocalStack:
    """One reminder per cart: these tests follow a single deferred email (tests/integration/
    test_cart_series.py follows the series through quiet hours)."""
    return fresh_stack(moto, CartReminderHours="0")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def move_customer(stack: LocalStack, customer_id: str, timezone: str | None) -> None:
    """Given the customer lives in ``timezone`` (None: the profile does not say)."""
    table = stack.names["CustomersTable"]
    customer = get_customer(table, customer_id)
    assert customer is not None
    put_customer(table, customer.model_copy(update={"timezone": timezone}))


def cart_event(samples: dict[str, SampleEvent], cart_id: str, abandoned_at: datetime) -> SampleEvent:
    """A cart the store reports as it happens (within the replay window, whatever the test's date)."""
    return (
        samples["cart_abandoned/vip_ada.json"]
        .varied(cart_id, cart_id=cart_id, abandoned_at=abandoned_at.isoformat())
        .sent_at(abandoned_at)
    )


def cart_outcome(stack: LocalStack, cart_id: str) -> Any:
    return get_outcome(stack.names["DeliveriesTable"], ADA, "cart_abandoned", cart_id)


@pytest.mark.parametrize(
    ("timezone", "night_utc", "morning_utc"),
    [
        # 23:30 in Tokyo
        ("Asia/Tokyo", "2026-11-23T14:30", "2026-11-23T23:00"),
        # 23:00 in Kolkata (UTC+5:30)
        ("Asia/Kolkata", "2026-11-23T17:30", "2026-11-24T02:30"),
        # 23:00 EDT the night New York falls back: the morning is 08:00 EST, an hour later in UTC
        ("America/New_York", "2026-11-01T03:00", "2026-11-01T13:00"),
        # 23:00 CET the night Berlin springs forward (28 Mar 2027): the morning is 08:00 CEST
        ("Europe/Berlin", "2027-03-27T22:00", "2027-03-28T06:00"),
        # 22:00 AEST the night Sydney springs forward (southern hemisphere, 3 Oct 2027)
        ("Australia/Sydney", "2027-10-02T12:00", "2027-10-02T21:00"),
    ],
)
def test_an_email_at_night_is_sent_at_eight_the_customers_next_morning(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
    timezone: str,
    night_utc: str,
    morning_utc: str,
) -> None:
    # Given Ada lives in this timezone, and abandons a cart late in her evening
    move_customer(stack, ADA, timezone)
    clock.move_to(utc(night_utc))
    put_events(stack, [cart_event(samples, "cart_night", utc(night_utc) - timedelta(hours=1))])
    # When the Cart Abandoned function handles it at once
    mappings.drain()
    # Then nothing is sent tonight; the decision says when it will be
    assert sent_emails(moto) == []
    outcome = cart_outcome(stack, "cart_night")
    assert outcome.decision is Decision.DEFERRED
    assert outcome.deferred_until == utc(morning_utc)
    # And one schedule will bring the event back to the queue at that moment
    (schedule,) = OneTimeSchedules(stack).pending()
    assert schedule.due == utc(morning_utc)
    assert schedule.target_arn == stack.arns["CartAbandonedQueue"]
    # When her morning comes
    deliver_deferred(stack, mappings, clock.move_to)
    # Then the email goes out once, shortly after 08:00 on her clock
    (email,) = sent_emails(moto)
    sent_local = parsedate_to_datetime(str(email["Date"])).astimezone(ZoneInfo(timezone))
    assert (sent_local.hour, sent_local.minute) == (8, 0)
    assert cart_outcome(stack, "cart_night").decision is Decision.SENT
    assert OneTimeSchedules(stack).pending() == []


def test_a_duplicate_at_night_is_scheduled_once_and_sent_once(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    move_customer(stack, ADA, "Asia/Tokyo")
    cart = cart_event(samples, "cart_twice", utc("2026-11-23T13:00"))
    put_events(stack, [cart, cart])
    mappings.drain()
    assert len(OneTimeSchedules(stack).pending()) == 1
    deliver_deferred(stack, mappings, clock.move_to)
    assert len(sent_emails(moto)) == 1


def test_a_customer_who_buys_overnight_gets_no_cart_reminder_in_the_morning(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    # Given Ada's cart reminder is waiting for her Tokyo morning
    move_customer(stack, ADA, "Asia/Tokyo")
    put_events(stack, [cart_event(samples, "cart_overnight", utc("2026-11-23T13:00"))])
    mappings.drain()
    # When she orders at 06:00 her time, before the reminder goes
    clock.move_to(utc("2026-11-23T21:00"))
    order = samples["order_placed/repeat_order_maria.json"].varied(
        "order", customer_id=ADA, order_id="ord_overnight", placed_at="2026-11-23T21:00:00+00:00"
    )
    put_events(stack, [order])
    mappings.drain()
    deliver_deferred(stack, mappings, clock.move_to)
    # Then the reminder is decided again in the morning and skipped; only the thank-you is sent
    assert cart_outcome(stack, "cart_overnight").reason is SkipReason.ORDERED_SINCE
    assert [str(email["Subject"]) for email in sent_emails(moto)] == ["Thanks for your order, Ada"]


def test_a_customer_without_a_timezone_keeps_the_stores_default_one(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    # Given a store whose default timezone is Tokyo, and a profile that names none
    stack = fresh_stack(moto, DefaultTimezone="Asia/Tokyo", CartReminderHours="0")
    move_customer(stack, ADA, None)
    # When her cart is handled at 23:30 Tokyo time
    put_events(stack, [cart_event(samples, "cart_default_zone", utc("2026-11-23T13:00"))])
    EventSourceMappings(stack, clock).drain()
    # Then it waits for 08:00 in Tokyo
    assert cart_outcome(stack, "cart_default_zone").deferred_until == utc("2026-11-23T23:00")
    assert sent_emails(moto) == []


def test_an_event_that_cannot_be_scheduled_is_retried_and_then_dead_lettered_not_lost(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given the schedule group is gone (a broken deploy), and it is night for Ada
    move_customer(stack, ADA, "Asia/Tokyo")
    scheduler = clients.scheduler(stack.region)
    scheduler.delete_schedule_group(Name=stack.names["QuietHoursScheduleGroup"])
    put_events(stack, [cart_event(samples, "cart_unschedulable", utc("2026-11-23T13:00"))])
    # When the function handles it
    report = mappings.drain()
    # Then each attempt fails, backing off by receive count for hours rather than minutes, and only
    # after the queue's maxReceiveCount (16 in template.yaml) the event is dead-lettered; nothing sent
    assert report.failed_records == 16
    assert report.waited_seconds > 2 * 3600
    assert [d["cart_id"] for d in dead_lettered_details(stack)["CartAbandonedDLQ"]] == ["cart_unschedulable"]
    assert sent_emails(moto) == []


def test_quiet_hours_can_be_turned_off(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, QuietHoursStart="00:00", QuietHoursEnd="00:00", CartReminderHours="0")
    move_customer(stack, ADA, "Asia/Tokyo")
    put_events(stack, [cart_event(samples, "cart_no_quiet_hours", utc("2026-11-23T13:00"))])
    EventSourceMappings(stack, clock).drain()
    assert len(sent_emails(moto)) == 1
