"""What one email costs in AWS calls: the delivery record is written, never read first; the profile
and its send state are read once, and the send state (never the profile) written once;
recommendation rows a warm function read within the minute are not read again; a capped email writes
nothing but its cart."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.failures import (
    CrashPoint,
    Refusal,
    Stall,
    crash_at,
    recording_calls,
    refusing,
    stalling,
)
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import get_product
from local_stack.emulator.run import customer_as_sent, put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.seed import put_shopper
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_profile_item
from nudge.dal.items import from_item
from nudge.dal.recommendation_reads import RECOMMENDATION_CACHE_SECONDS
from nudge.dal.send_state import STATE_KEY, state_key
from nudge.outcome import Decision, SkipReason
from nudge.send_state import SendState
from nudge.timeutil import to_stored, utc_now
from nudge.triggers import CART_ABANDONED
from tests.conftest import sent_emails
from tests.integration.test_recommendations import RECOMMENDED, bought_together, put_catalog

CART = "cart_abandoned/vip_ada.json"


def _shopper(stack: LocalStack, number: int) -> str:
    return put_shopper(stack, f"cus_shopper_{number}")


def _cart(samples: dict[str, SampleEvent], customer_id: str) -> SampleEvent:
    return samples[CART].varied(customer_id, customer_id=customer_id, cart_id=f"cart_{customer_id}")


def _with_catalog(stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]) -> None:
    """The sample catalog, and orders that teach the recommender what sells with the cart's scarf."""
    put_catalog(stack, mappings, samples)
    put_events(
        stack,
        [
            bought_together(samples, "ord_t1", "SKU-CASHMERE-01", "SKU-HAT-12"),
            bought_together(samples, "ord_t2", "SKU-CASHMERE-01", "SKU-BERET-04"),
        ],
    )
    mappings.drain()


def test_a_sent_cart_reminder_costs_five_calls_and_its_next_schedule_once_the_function_is_warm(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent], moto: MotoEndpoint
) -> None:
    _with_catalog(stack, mappings, samples)
    put_events(stack, [_cart(samples, _shopper(stack, 1))])
    mappings.drain()  # the first email reads segments, experiments and the recommendation rows
    before = len(sent_emails(moto))
    with recording_calls() as calls:
        put_events(stack, [_cart(samples, _shopper(stack, 2))])
        # The send path's own calls (SES's Send event is recorded later, by the engagement function)
        mappings.drain(only=["CartAbandonedFunction"])
    assert len(sent_emails(moto)) == before + 1
    assert "YOU MIGHT ALSO LIKE" in str(sent_emails(moto)[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert Counter(calls) == Counter(
        {
            ("dynamodb", "BatchGetItem"): 1,  # the profile and its send state
            ("dynamodb", "UpdateItem"): 2,  # the send state's write; the delivery's result
            ("dynamodb", "PutItem"): 1,  # the delivery record's claim, which is the duplicate check
            ("sesv2", "SendEmail"): 1,
            ("scheduler", "CreateSchedule"): 1,  # the next reminder
        }
    )


def test_the_send_writes_the_cap_slot_the_marks_and_the_newest_cart_and_never_the_profile(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    customer_id = _shopper(stack, 1)
    profile_before = get_profile_item(stack.names["CustomersTable"], customer_id)
    cart = _cart(samples, customer_id)
    put_events(stack, [cart])
    mappings.drain()
    assert get_profile_item(stack.names["CustomersTable"], customer_id) == profile_before
    stored = customer_as_sent(stack, customer_id)
    assert stored is not None
    assert stored.latest_cart_id == f"cart_{customer_id}"
    assert stored.last_emailed_at is not None and stored.first_emailed_at == stored.last_emailed_at
    reminder = CART_ABANDONED.business_id(CART_ABANDONED.parse(cart.event))
    assert [slot.taken_by for slot in stored.held_slots.values()] == [f"cart_abandoned:{reminder}"]


def _second_cart_under_a_cap_of_one(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> tuple[LocalStack, EventSourceMappings, str, SampleEvent]:
    """A cap of one email a day, a shopper whose first cart's reminder went out, and their second,
    newer cart (not yet put on the bus)."""
    stack = fresh_stack(moto, FrequencyCapEmails="1")
    mappings = EventSourceMappings(stack, clock)
    customer_id = _shopper(stack, 1)
    put_events(stack, [samples[CART].varied("first", customer_id=customer_id, cart_id="cart_a")])
    mappings.drain()
    second = samples[CART].varied(
        "second", customer_id=customer_id, cart_id="cart_b", abandoned_at="2026-11-23T09:45:00Z"
    )
    return stack, mappings, customer_id, second


def test_a_capped_email_writes_nothing_to_the_profile_but_its_cart(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack, mappings, customer_id, second = _second_cart_under_a_cap_of_one(moto, samples, clock)
    clock.shift(60)
    with recording_calls() as calls:
        put_events(stack, [second])
        mappings.drain()
    assert len(sent_emails(moto)) == 1
    # The profile read showed the one slot taken: no slot write that must fail; only the newer cart
    # is noted, so the first cart's series ends as superseded.
    assert calls.count(("dynamodb", "UpdateItem")) == 1
    stored = customer_as_sent(stack, customer_id)
    assert stored is not None and stored.latest_cart_id == "cart_b"


def test_a_product_out_of_stock_leaves_the_emails_once_the_cached_rows_expire(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    moto: MotoEndpoint,
    clock: time_machine.Traveller,
) -> None:
    def recommended() -> list[str]:
        html = str(sent_emails(moto)[-1].get_body(("html",)).get_content())  # type: ignore[union-attr]
        return list(dict.fromkeys(RECOMMENDED.findall(html)))

    _with_catalog(stack, mappings, samples)
    put_events(stack, [_cart(samples, _shopper(stack, 1))])
    mappings.drain()
    top = recommended()[0]
    # Given the top recommendation goes out of stock (a newer Product Updated)
    (product,) = [s for s in samples.values() if s.is_product and s.event["detail"].get("sku") == top]
    put_events(stack, [product.varied("out_of_stock", in_stock=False, updated_at="2026-11-23T12:00:00Z")])
    mappings.drain()
    stored = get_product(stack.names["ProductsTable"], top)
    assert stored is not None and not stored.in_stock
    # Then an email within the minute still shows it (the send function's row is younger than that)...
    put_events(stack, [_cart(samples, _shopper(stack, 2))])
    mappings.drain()
    assert top in recommended()
    # ...and none after it
    clock.shift(RECOMMENDATION_CACHE_SECONDS + 1)
    put_events(stack, [_cart(samples, _shopper(stack, 3))])
    mappings.drain()
    assert top not in recommended()


def test_a_replayed_capped_email_changes_nothing_once_the_slot_is_free_again(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack, mappings, customer_id, second = _second_cart_under_a_cap_of_one(moto, samples, clock)
    put_events(stack, [second])
    mappings.drain()  # capped: the day's one email went to the first cart
    before = customer_as_sent(stack, customer_id)
    # When the store replays the second cart's event after the cap's window has passed
    clock.shift(25 * 3600)
    with recording_calls() as calls:
        put_events(stack, [second])
        mappings.drain()
    # Then its record answers (capped), and the profile's slot and marks are as they were
    assert len(sent_emails(moto)) == 1
    assert customer_as_sent(stack, customer_id) == before
    assert ("dynamodb", "UpdateItem") not in calls


@pytest.mark.parametrize("fault", ["none", "crash", "refused"])
def test_a_claim_that_finds_the_last_slot_taken_meanwhile_becomes_its_skip(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller, fault: str
) -> None:
    stack = fresh_stack(moto, FrequencyCapEmails="1")
    mappings = EventSourceMappings(stack, clock)
    customer_id = _shopper(stack, 1)
    cart = samples[CART].varied("raced", customer_id=customer_id, cart_id="cart_raced")

    def another_email_takes_the_slot(_: float) -> None:
        clients.dynamodb(stack.region).update_item(
            TableName=stack.names["DeliveriesTable"],
            Key={"customer_id": {"S": customer_id}, "delivery_key": {"S": STATE_KEY}},
            UpdateExpression="SET cap_0_at = :at, cap_0_by = :by",
            ExpressionAttributeValues={
                ":at": {"S": to_stored(utc_now())},
                ":by": {"S": "customer_lapsed:other"},
            },
        )

    # Given another email takes the customer's one slot right after this cart's claim (PutItem #1).
    # The invocation's UpdateItems are then: #1 that email's, #2 this one's profile write (its
    # condition fails), #3 the cart noted on its own, #4 the claim becoming the skip. The process
    # dies right after #4 (the third to succeed: a crash point counts the calls that returned), or
    # #4 is refused as throttled; SQS redelivers after the visibility timeout
    with ExitStack() as faults:
        faults.enter_context(
            stalling(
                Stall(
                    service="dynamodb",
                    operation="PutItem",
                    seconds=0,
                    move_clock=another_email_takes_the_slot,
                )
            )
        )
        if fault == "crash":
            faults.enter_context(crash_at(CrashPoint(service="dynamodb", operation="UpdateItem", nth=3)))
        if fault == "refused":
            faults.enter_context(refusing(Refusal(service="dynamodb", operation="UpdateItem", nth=4)))
        put_events(stack, [cart])
        report = mappings.drain()
    assert report.died == (1 if fault == "crash" else 0)
    assert report.failed_records == (0 if fault == "none" else 1)  # the fault was reached
    # Then no email, the cart's decision is capped, on record once, and the cart is still noted
    assert sent_emails(moto) == []
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None
    assert (outcome.decision, outcome.reason) == (Decision.SKIPPED, SkipReason.FREQUENCY_CAPPED)
    stored = customer_as_sent(stack, customer_id)
    assert stored is not None and stored.latest_cart_id == "cart_raced"
    assert [slot.taken_by for slot in stored.held_slots.values()] == ["customer_lapsed:other"]
    assert stored.last_emailed_at is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param({"cap_0_at": "yesterday", "cap_0_by": "cart_abandoned:old"}, id="slot time not a time"),
        pytest.param(
            {"cap_0_at": {"N": "1764000000"}, "cap_0_by": "cart_abandoned:old"}, id="slot time a number"
        ),
        pytest.param({"cap_0_at": "2026-11-23T08:00:00Z", "cap_0_by": {"N": "7"}}, id="slot owner a number"),
        pytest.param({"latest_cart_id": "cart_old", "latest_cart_at": "some day"}, id="cart time not a time"),
        pytest.param({"first_emailed_at": "long ago", "last_emailed_at": "2026-01-01"}, id="marks not times"),
    ],
)
def test_a_send_state_damaged_by_hand_neither_stops_the_email_nor_stays_damaged(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    moto: MotoEndpoint,
    damage: dict[str, object],
) -> None:
    # Given a send state someone edited by hand (or an old restore), with one attribute unreadable
    customer_id = _shopper(stack, 1)
    item = {name: value if isinstance(value, dict) else {"S": value} for name, value in damage.items()}
    clients.dynamodb(stack.region).put_item(
        TableName=stack.names["DeliveriesTable"],
        Item={"customer_id": {"S": customer_id}, "delivery_key": {"S": STATE_KEY}, **item},
    )
    # When their cart is abandoned
    put_events(stack, [_cart(samples, customer_id)])
    mappings.drain()
    # Then the reminder goes out, and the send state now reads whole: its slot, marks and cart
    assert [email["To"].addresses[0].addr_spec for email in sent_emails(moto)] == [
        f"{customer_id}@example.com"
    ]
    stored = clients.dynamodb(stack.region).get_item(
        TableName=stack.names["DeliveriesTable"], Key=state_key(customer_id), ConsistentRead=True
    )["Item"]
    state = SendState.model_validate(from_item(stored))
    assert [slot.taken_by for slot in state.send_slots.values()] == [
        f"cart_abandoned:{_reminder(samples, customer_id)}"
    ]
    assert state.last_emailed_at is not None and state.first_emailed_at is not None
    assert state.latest_cart_id == f"cart_{customer_id}"


def _reminder(samples: dict[str, SampleEvent], customer_id: str) -> str:
    return CART_ABANDONED.business_id(CART_ABANDONED.parse(_cart(samples, customer_id).event))
