"""The frequency cap: at most N emails per customer per rolling window, whichever triggers race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

import pytest
import time_machine
from aws_lambda_powertools.utilities.typing import LambdaContext as PowertoolsLambdaContext

from local_stack.emulator import clients
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import LambdaContext
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.adapters.ses import SendRefusedError
from nudge.dal.customers import get_customer
from nudge.events import CartAbandoned, CustomerLapsed, TriggerDetail
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.pipeline import process_event
from nudge.sending.records import SendInProgressError
from nudge.settings import Settings
from nudge.timeutil import utc_now
from nudge.triggers import CART_ABANDONED, CUSTOMER_LAPSED, Trigger
from tests.conftest import sent_emails

ADA = "cus_vip_ada"


def settings_of(stack: LocalStack) -> Settings:
    return Settings.from_environment(stack.functions["CartAbandonedFunction"].environment)


def cart(samples: dict[str, SampleEvent], cart_id: str) -> CartAbandoned:
    event = samples["cart_abandoned/vip_ada.json"].varied(cart_id, cart_id=cart_id).event
    detail: CartAbandoned = CART_ABANDONED.parse(event)
    return detail


def lapse_of(stack: LocalStack, customer_id: str) -> CustomerLapsed:
    customer = get_customer(settings_of(stack).customers_table, customer_id)
    assert customer is not None and customer.last_order_at is not None
    return CustomerLapsed(
        customer_id=customer_id, last_order_at=customer.last_order_at, days_since_last_order=120
    )


def deliver(trigger: Trigger[Any], detail: TriggerDetail, settings: Settings) -> Outcome:
    """As SQS would: a delivery that finds its own duplicate in progress is retried."""
    context = LambdaContext(
        function_name=trigger.name, memory_limit_in_mb=512, invoked_function_arn="local", timeout_seconds=30
    )
    while True:
        try:
            return process_event(trigger, detail, settings, cast(PowertoolsLambdaContext, context))
        except SendInProgressError:
            continue


@pytest.fixture
def capped_at_two(moto: MotoEndpoint) -> LocalStack:
    return fresh_stack(moto, FrequencyCapEmails="2", FrequencyCapHours="24")


def test_of_triggers_racing_for_one_customer_exactly_one_email_is_sent(
    stack: LocalStack, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given five abandoned carts and a lapse for the same customer, handled at the same moment
    settings = settings_of(stack)
    races: list[tuple[Trigger[Any], TriggerDetail]] = [
        *((CART_ABANDONED, cart(samples, f"cart_race_{n}")) for n in range(5)),
        (CUSTOMER_LAPSED, lapse_of(stack, ADA)),
    ]
    # When six Lambda sandboxes process them concurrently
    with ThreadPoolExecutor(max_workers=len(races)) as pool:
        outcomes = list(pool.map(lambda race: deliver(race[0], race[1], settings), races))
    # Then the default cap (1 per 24 h) lets exactly one through, whichever claimed first
    assert len(sent_emails(moto)) == 1
    assert sorted(o.decision for o in outcomes) == [Decision.SENT] + [Decision.SKIPPED] * 5
    assert {o.reason for o in outcomes if o.decision is Decision.SKIPPED} == {SkipReason.FREQUENCY_CAPPED}
    # And each loser's decision is on record, and a redelivery of it still sends nothing
    loser = next(o for o in outcomes if o.decision is Decision.SKIPPED)
    recorded = get_outcome(settings.deliveries_table, ADA, loser.trigger, loser.business_id)
    assert recorded is not None and recorded.reason is SkipReason.FREQUENCY_CAPPED
    trigger, detail = next(
        (trigger, detail)
        for trigger, detail in races
        if (trigger.name, trigger.business_id(detail)) == (loser.trigger, loser.business_id)
    )
    assert deliver(trigger, detail, settings).reason is SkipReason.FREQUENCY_CAPPED
    assert len(sent_emails(moto)) == 1


def test_a_cap_of_two_sends_two_and_the_window_reopens_after_it_rolls_past(
    capped_at_two: LocalStack, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    settings = settings_of(capped_at_two)
    start = utc_now()
    with time_machine.travel(start, tick=True) as clock:
        # Given two emails sent to Ada an hour apart
        assert deliver(CART_ABANDONED, cart(samples, "cart_1"), settings).decision is Decision.SENT
        clock.shift(timedelta(hours=1))
        assert deliver(CART_ABANDONED, cart(samples, "cart_2"), settings).decision is Decision.SENT
        # When a third comes 23 hours after the first
        clock.shift(timedelta(hours=22))
        third = deliver(CART_ABANDONED, cart(samples, "cart_3"), settings)
        # Then it is capped
        assert third.reason is SkipReason.FREQUENCY_CAPPED
        # And once the first send is more than 24 hours old, one slot is free again (not two)
        clock.shift(timedelta(hours=1, minutes=1))
        assert deliver(CART_ABANDONED, cart(samples, "cart_4"), settings).decision is Decision.SENT
        fifth = deliver(CART_ABANDONED, cart(samples, "cart_5"), settings)
        assert fifth.reason is SkipReason.FREQUENCY_CAPPED
    assert len(sent_emails(moto)) == 3


def test_an_email_ses_refuses_gives_its_slot_back(
    stack: LocalStack, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    settings = settings_of(stack)
    ses = clients.sesv2(stack.region)
    # Given SES refuses Ada's cart email (it will be retried, and may end in the dead-letter queue)
    ses.delete_email_identity(EmailIdentity="shop.example")
    with pytest.raises(SendRefusedError):
        deliver(CART_ABANDONED, cart(samples, "cart_refused"), settings)
    ses.create_email_identity(EmailIdentity="shop.example")
    # When her win-back comes next
    outcome = deliver(CUSTOMER_LAPSED, lapse_of(stack, ADA), settings)
    # Then the unsent email did not use up her one email of the day
    assert outcome.decision is Decision.SENT
    assert len(sent_emails(moto)) == 1


def test_a_cap_of_zero_turns_the_cap_off(moto: MotoEndpoint, samples: dict[str, SampleEvent]) -> None:
    settings = settings_of(fresh_stack(moto, FrequencyCapEmails="0"))
    outcomes = [deliver(CART_ABANDONED, cart(samples, f"cart_{n}"), settings) for n in range(3)]
    assert [o.decision for o in outcomes] == [Decision.SENT] * 3
