"""The cart reminder series: steps at CartReminderHours, each decided afresh, ended by an order or a
newer cart, idempotent per cart and step, and never lost to a crash between a step and the next."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import time_machine

from local_stack.emulator.failures import CrashPoint, crash_at
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.one_time_schedules import OneTimeSchedules, deliver_deferred
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent, load_follow_ups
from local_stack.emulator.stack import LocalStack
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.timeutil import utc_now
from tests.conftest import sent_emails

ADA = "cus_vip_ada"
CART = "cart_7f3a"


def step_outcome(stack: LocalStack, step: int, cart_id: str = CART) -> Outcome | None:
    business_id = cart_id if step == 1 else f"{cart_id}#{step}"
    return get_outcome(stack.names["DeliveriesTable"], ADA, "cart_abandoned", business_id)


def campaigns(emails: list[EmailMessage]) -> list[str]:
    found = []
    for email in emails:
        html = email.get_body(("html",))
        assert html is not None
        content = html.get_content()
        found += [c for c in ("cart_abandoned-1", "cart_abandoned-2", "cart_abandoned-3") if c in content]
    return found


def test_a_cart_gets_three_reminders_as_the_days_pass_and_only_the_last_carries_the_offer(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    cart = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [cart])
    mappings.drain()
    assert len(sent_emails(moto)) == 1
    # Then step 2 waits in a one-time schedule, a day after the cart (and after the cap's window)
    (pending,) = OneTimeSchedules(stack).pending()
    assert pending.due >= utc_now() + timedelta(hours=24)

    deliver_deferred(stack, mappings, clock.move_to)

    outcomes = [step_outcome(stack, step) for step in (1, 2, 3)]
    assert [o.decision if o else None for o in outcomes] == [Decision.SENT] * 3
    emails = sent_emails(moto)
    assert len(emails) == 3
    assert sorted(campaigns(emails)) == ["cart_abandoned-1", "cart_abandoned-2", "cart_abandoned-3"]
    with_code = [e for e in emails if "VIP15" in str(e.get_body(("plain",)).get_content())]  # type: ignore[union-attr]
    assert len(with_code) == 1 and "cart_abandoned-3" in campaigns(with_code)
    assert OneTimeSchedules(stack).pending() == []


def test_an_order_from_the_cart_ends_the_series_and_records_the_remaining_steps_skipped(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    order = next(f for f in load_follow_ups() if f.name.endswith("2_order_from_reminder_ada.json"))
    put_events(stack, [order])
    mappings.drain()

    deliver_deferred(stack, mappings, clock.move_to)

    later = [step_outcome(stack, step) for step in (2, 3)]
    assert [(o.decision, o.reason) if o else None for o in later] == [
        (Decision.SKIPPED, SkipReason.ORDERED_SINCE)
    ] * 2
    # The reminder and the thank-you; nothing after the order.
    assert len(sent_emails(moto)) == 2
    assert OneTimeSchedules(stack).pending() == []


def test_a_newer_cart_supersedes_the_older_carts_series(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    first = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [first])
    mappings.drain()
    # The next morning Ada abandons another cart
    clock.shift(timedelta(hours=20))
    newer_at = utc_now() - timedelta(minutes=30)
    newer = first.varied("newer cart", cart_id="cart_newer", abandoned_at=newer_at.isoformat()).sent_at(
        utc_now()
    )
    put_events(stack, [newer])
    mappings.drain()

    deliver_deferred(stack, mappings, clock.move_to)

    older_later = [step_outcome(stack, step) for step in (2, 3)]
    assert [(o.decision, o.reason) if o else None for o in older_later] == [
        (Decision.SKIPPED, SkipReason.SUPERSEDED)
    ] * 2
    newer_steps = [step_outcome(stack, step, "cart_newer") for step in (1, 2, 3)]
    assert all(o is not None and o.decision is not Decision.DEFERRED for o in newer_steps)
    assert any(o is not None and o.decision is Decision.SENT for o in newer_steps[1:])


def test_a_crash_before_the_next_step_is_scheduled_is_retried_without_a_second_email(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    # Given the process dies after step 1 is sent and recorded, right before step 2 is scheduled
    with crash_at(CrashPoint(service="scheduler", operation="CreateSchedule", after=False)) as points:
        put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
        mappings.drain()
    assert points[0].fired
    # Then the record comes back, finds step 1 sent, sends nothing, and schedules step 2 once
    assert len(sent_emails(moto)) == 1
    assert len(OneTimeSchedules(stack).pending()) == 1
    deliver_deferred(stack, mappings, clock.move_to)
    assert len(sent_emails(moto)) == 3


def test_a_duplicate_of_a_step_creates_no_second_schedule(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
) -> None:
    cart = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [cart, cart])
    mappings.drain()
    put_events(stack, [cart])
    mappings.drain()
    assert len(sent_emails(moto)) == 1
    assert len(OneTimeSchedules(stack).pending()) == 1
