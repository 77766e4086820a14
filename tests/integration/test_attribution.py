"""Orders attributed to emails on the stack: Order Placed through its own rule, queue and function,
recorded once on the delivery record that earned it, whatever is retried or duplicated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from local_stack.emulator.failures import CrashPoint, Throttling, crash_at, throttled
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import publish_as_ses, put_events
from local_stack.emulator.scenario import SampleEvent, load_follow_ups, load_sample_rows
from local_stack.emulator.ses_events import engagement_event, mail_object
from local_stack.emulator.stack import LocalStack
from nudge.dal.deliveries import get_record
from nudge.timeutil import to_stored, utc_now

ADA = "cus_vip_ada"


@pytest.fixture
def reminder_sent_at(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> datetime:
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    record = ada_reminder(stack)
    assert record["decision"] == "sent"
    return datetime.fromisoformat(record["decided_at"])


def ada_reminder(stack: LocalStack) -> dict[str, Any]:
    record = get_record(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a")
    assert record is not None
    return record


def order(placed_at: datetime, order_id: str = "ord_7001", cart_id: str | None = None) -> SampleEvent:
    """Ada's order from the follow-up sample, placed at ``placed_at``, naming ``cart_id`` or no cart."""
    follow_up = next(s for s in load_follow_ups() if s.name.endswith("2_order_from_reminder_ada.json"))
    return follow_up.varied(
        order_id, order_id=order_id, cart_id=cart_id, placed_at=to_stored(placed_at)
    ).sent_at(placed_at)


def place(stack: LocalStack, clock: time_machine.Traveller, event: SampleEvent, at: datetime) -> None:
    """Put the order on the bus when the store would: at ``at`` (times ahead of the clock by more than
    MaxClockSkewSeconds are refused as from the future)."""
    if at > utc_now():
        clock.move_to(at)
    put_events(stack, [event])


def engage(stack: LocalStack, mappings: EventSourceMappings, event_type: str, moment: datetime) -> None:
    outcome = get_outcome(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a")
    assert outcome is not None
    email = next(row["email"] for row in load_sample_rows("customers") if row["customer_id"] == ADA)
    mail = mail_object(stack, outcome, email, moment - timedelta(seconds=5))
    link = "https://shop.example/cart/cart_7f3a?utm_source=nudge&utm_content=cta"
    publish_as_ses(stack, engagement_event(stack, mail, event_type, moment, link))
    mappings.drain()


def test_an_order_naming_the_reminded_cart_converts_the_reminder_with_its_revenue(
    stack: LocalStack, mappings: EventSourceMappings, reminder_sent_at: datetime
) -> None:
    put_events(stack, [order(reminder_sent_at + timedelta(hours=3), cart_id="cart_7f3a")])
    mappings.drain()
    record = ada_reminder(stack)
    assert record["converted_order_id"] == "ord_7001"
    assert (record["revenue"], record["currency"]) == (Decimal("220.00"), "GBP")
    assert record["converted_at"] == to_stored(reminder_sent_at + timedelta(hours=3))


@pytest.mark.parametrize(("clicked_days_before", "converted"), [(4.5, True), (5.5, False)])
def test_an_order_without_a_cart_goes_to_the_email_clicked_within_five_days(
    stack: LocalStack,
    mappings: EventSourceMappings,
    reminder_sent_at: datetime,
    clicked_days_before: float,
    converted: bool,
    clock: time_machine.Traveller,
) -> None:
    clicked_at = reminder_sent_at + timedelta(hours=1)
    engage(stack, mappings, "Click", clicked_at)
    placed_at = clicked_at + timedelta(days=clicked_days_before)
    place(stack, clock, order(placed_at), placed_at)
    mappings.drain()
    assert ada_reminder(stack).get("converted_order_id") == ("ord_7001" if converted else None)


@pytest.mark.parametrize(("hours_after_delivery", "converted"), [(20, True), (30, False)])
def test_without_a_click_an_order_goes_to_the_email_delivered_within_a_day(
    stack: LocalStack,
    mappings: EventSourceMappings,
    reminder_sent_at: datetime,
    hours_after_delivery: int,
    converted: bool,
    clock: time_machine.Traveller,
) -> None:
    delivered_at = reminder_sent_at + timedelta(seconds=4)
    engage(stack, mappings, "Delivery", delivered_at)
    placed_at = delivered_at + timedelta(hours=hours_after_delivery)
    place(stack, clock, order(placed_at), placed_at)
    mappings.drain()
    assert ada_reminder(stack).get("converted_order_id") == ("ord_7001" if converted else None)


def test_an_order_delivered_twice_and_crashing_after_its_conversion_is_counted_once(
    stack: LocalStack, mappings: EventSourceMappings, reminder_sent_at: datetime
) -> None:
    placed = order(reminder_sent_at + timedelta(hours=2), cart_id="cart_7f3a")
    # Given the attribution function dies right after its conversion transaction, and the order
    # arrives twice (EventBridge and SQS deliver at least once)
    put_events(stack, [placed, placed])
    with crash_at(CrashPoint(service="dynamodb", operation="TransactWriteItems", nth=1)):
        report = mappings.drain(only=["AttributionFunction"])
    mappings.drain()
    assert report.died == 1
    # Then the reminder converted that order once, and its guard names the reminder
    record = ada_reminder(stack)
    assert (record["converted_order_id"], record["revenue"]) == ("ord_7001", Decimal("220.00"))
    guard = get_record(stack.names["DeliveriesTable"], ADA, "attribution", "ord_7001")
    assert guard is not None and guard["attributed_to"] == "cart_abandoned#cart_7f3a"


def test_a_second_order_never_takes_an_email_that_converted_the_first(
    stack: LocalStack, mappings: EventSourceMappings, reminder_sent_at: datetime
) -> None:
    engage(stack, mappings, "Click", reminder_sent_at + timedelta(minutes=30))
    put_events(stack, [order(reminder_sent_at + timedelta(hours=1), "ord_first")])
    mappings.drain()
    put_events(stack, [order(reminder_sent_at + timedelta(hours=2), "ord_second")])
    mappings.drain()
    assert ada_reminder(stack)["converted_order_id"] == "ord_first"
    assert get_record(stack.names["DeliveriesTable"], ADA, "attribution", "ord_second") is None


def test_an_order_with_no_email_in_its_windows_is_attributed_to_nothing(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    put_events(stack, [order(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))])
    mappings.drain()
    assert get_record(stack.names["DeliveriesTable"], ADA, "attribution", "ord_7001") is None


def test_under_fifty_percent_throttling_an_order_converts_its_email_once(
    stack: LocalStack,
    mappings: EventSourceMappings,
    reminder_sent_at: datetime,
    clock: time_machine.Traveller,
) -> None:
    placed = order(reminder_sent_at + timedelta(hours=2), cart_id="cart_7f3a")
    with throttled(Throttling(rate=0.5, services=frozenset({"dynamodb"}), seed=3), clock.shift) as throttling:
        put_events(stack, [placed, placed, placed])
        mappings.drain()
    assert throttling.refused.get("dynamodb", 0) > 0
    record = ada_reminder(stack)
    assert (record["converted_order_id"], record["revenue"]) == ("ord_7001", Decimal("220.00"))
