"""The sunset policy on the stack: with SunsetAfterDays set, marketing email stops for customers
with no open or click for that long (skip reason ``unengaged``); the thank-you still goes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import customer_as_sent, put_events
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, SampleEvent, load_follow_ups
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_customer, put_customer
from nudge.dal.send_state import get_send_marks
from nudge.outcome import Decision, SkipReason
from nudge.send_state import FACT_MARKS
from tests.conftest import sent_emails

ADA = "cus_vip_ada"


def engaged(stack: LocalStack, *, first_email_days_ago: int, last_open_days_ago: int | None) -> None:
    """Ada, emailed since then, who last opened an email then (or never)."""
    table = stack.names["CustomersTable"]
    ada = get_customer(table, ADA)
    assert ada is not None
    last_open = SAMPLE_DAY_CLOCK - timedelta(days=last_open_days_ago) if last_open_days_ago else None
    put_customer(
        table,
        ada.model_copy(
            update={
                "first_emailed_at": SAMPLE_DAY_CLOCK - timedelta(days=first_email_days_ago),
                "last_opened_at": last_open,
                "recent_open_dates": (last_open,) if last_open else (),
            }
        ),
    )


def cart_outcome(
    stack: LocalStack, mappings: EventSourceMappings, cart: SampleEvent
) -> tuple[Decision, str | None]:
    put_events(stack, [cart])
    mappings.drain()
    outcome = get_outcome(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a")
    assert outcome is not None
    return outcome.decision, outcome.reason


def test_no_marketing_email_after_180_days_without_an_open(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, SunsetAfterDays="180")
    mappings = EventSourceMappings(stack, clock)
    engaged(stack, first_email_days_ago=400, last_open_days_ago=181)
    assert cart_outcome(stack, mappings, samples["cart_abandoned/vip_ada.json"]) == (
        Decision.SKIPPED,
        SkipReason.UNENGAGED,
    )
    # The thank-you for her own order is exempt (SunsetExemptTriggers) and goes out
    put_events(
        stack, [next(s for s in load_follow_ups() if s.name.endswith("2_order_from_reminder_ada.json"))]
    )
    mappings.drain()
    assert [str(email["To"]) for email in sent_emails(moto)] == ["Ada Lovelace <ada.lovelace@example.com>"]


def test_an_open_within_the_window_or_a_short_history_keeps_the_emails_coming(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, SunsetAfterDays="180")
    mappings = EventSourceMappings(stack, clock)
    engaged(stack, first_email_days_ago=400, last_open_days_ago=170)
    assert cart_outcome(stack, mappings, samples["cart_abandoned/vip_ada.json"])[0] is Decision.SENT


def test_a_customer_emailed_for_less_than_the_window_is_not_unengaged_yet(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, SunsetAfterDays="180")
    mappings = EventSourceMappings(stack, clock)
    engaged(stack, first_email_days_ago=100, last_open_days_ago=None)
    assert cart_outcome(stack, mappings, samples["cart_abandoned/vip_ada.json"])[0] is Decision.SENT


def test_the_sunset_is_off_by_default(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    engaged(stack, first_email_days_ago=3000, last_open_days_ago=2000)
    assert cart_outcome(stack, mappings, samples["cart_abandoned/vip_ada.json"])[0] is Decision.SENT


def test_sending_records_the_first_email_where_unengaged_starts(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    cart_outcome(stack, mappings, samples["cart_abandoned/vip_ada.json"])
    ada = customer_as_sent(stack, ADA)
    assert ada is not None and ada.first_emailed_at is not None
    assert ada.first_emailed_at.date() == datetime(2026, 11, 23, tzinfo=UTC).date()


def test_a_first_email_stored_on_the_profile_keeps_the_sunset_clock_running(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given a first email stored on the profile itself (by an earlier version of Nudge, or an import)
    engaged(stack, first_email_days_ago=400, last_open_days_ago=None)
    # When an email goes out, and its marks go to the send state
    assert cart_outcome(stack, mappings, samples["cart_abandoned/vip_ada.json"])[0] is Decision.SENT
    # Then the send state carries that first email on, rather than starting the clock today
    state = get_send_marks(stack.names["DeliveriesTable"], [ADA], FACT_MARKS)[ADA]
    assert state.first_emailed_at == SAMPLE_DAY_CLOCK - timedelta(days=400)
    assert state.last_emailed_at is not None and state.last_emailed_at.date() == SAMPLE_DAY_CLOCK.date()
