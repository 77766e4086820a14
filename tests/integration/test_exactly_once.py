"""At most one email per business identity and every order counted once, under AWS's semantics:
crashes at every step, timeouts, throttled writes, throttling at 30 % and 60 %, replays, duplicates.

The local stack is as strict as AWS here: a failed or dead invocation's records come back only after
the queue's visibility timeout (the clock moves, nothing sleeps), an invocation past its Timeout dies
at its next call without running except/finally, and throttling is answered on the wire.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from local_stack.emulator.failures import (
    CrashPoint,
    LostAnswer,
    Refusal,
    Stall,
    crash_at,
    losing_answers,
    refusing,
    stalling,
)
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import DrainReport, EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.ses_send_events import dropping
from local_stack.emulator.stack import LocalStack
from local_stack.faults.runs import crash_point_matrix, header, line, throttling_run
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_record
from nudge.outcome import Decision, SkipReason
from nudge.timeutil import utc_now
from tests.conftest import sent_emails

# Throttling runs in `make test`; `make faults` runs the same with 1,000 events.
THROTTLED_EVENTS = 60


def test_a_crash_after_any_call_or_a_refused_write_never_sends_twice_or_counts_twice(
    moto: MotoEndpoint, clock: time_machine.Traveller
) -> None:
    rows = crash_point_matrix(moto, clock)
    table = "\n".join([header(), *map(line, rows)])
    for row in rows:
        assert row.crashes == row.events, f"{row.case}: every fault point was reached\n{table}"
        assert (row.duplicates, row.double_counts, row.in_dlq) == (0, 0, 0), table
        assert not [note for note in row.notes if "no final decision" in note or "counted" in note]
    # No crash point loses the email: a claim left by a dead invocation is closed as sent from SES's
    # own Send event when SES accepted it, and sent again under a new claim once the grace period
    # passed without one (crash after the claim, after the profile write).
    for row in rows:
        assert row.sent_once == row.events, table
        assert row.notes == [], table


def test_an_invocation_that_times_out_after_ses_accepted_sends_nothing_more(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    # Given SES takes 40 s to answer Ada's cart email (past the function's 30 s Timeout)
    cart = samples["cart_abandoned/vip_ada.json"]
    with stalling(Stall(service="sesv2", operation="SendEmail", seconds=40, move_clock=clock.shift)):
        put_events(stack, [cart])
        report = mappings.drain()
    # Then Lambda ended the invocation at its next call, and SQS redelivered the record after its
    # visibility timeout: the retry found the claim and sent nothing more...
    assert report.died == 1
    # The queue's VisibilityTimeout (180 s) counted from the receive, less the real time the run took
    assert report.waited_seconds + 40 > 175
    # and closed it as sent from SES's own Send event, with SES's message id
    (email,) = moto.sent_raw_emails()
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENT
    assert outcome.message_id == email


def test_a_duplicate_while_the_first_is_in_flight_waits_and_then_returns_its_result(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
) -> None:
    # Given the first delivery dies right after SES accepted, before it recorded the result
    cart = samples["cart_abandoned/vip_ada.json"]
    with crash_at(CrashPoint(service="sesv2", operation="SendEmail")):
        put_events(stack, [cart, cart])
        report = mappings.drain()
    # Then the twin saw a fresh claim, failed, came back after the claim's lease, and sent nothing
    assert report.died == 1
    assert len(sent_emails(moto)) == 1


def test_an_order_is_counted_once_whatever_step_dies(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    order = samples["order_placed/repeat_order_maria.json"]
    table = stack.names["CustomersTable"]
    before = get_customer(table, "cus_frequent_maria")
    assert before is not None
    # Given the function dies right after the profile update counted the order (before the segment
    # re-evaluation and the email), and the order is also delivered twice
    with crash_at(CrashPoint(service="dynamodb", operation="UpdateItem", nth=1)):
        put_events(stack, [order, order])
        mappings.drain()
    after = get_customer(table, "cus_frequent_maria")
    assert after is not None
    assert after.order_count == before.order_count + 1
    assert after.total_spent == before.total_spent + Decimal(order.event["detail"]["total"])
    assert after.counted_order_ids[-1] == order.event["detail"]["order_id"]


def test_a_replay_past_the_window_is_refused_and_a_resend_within_the_record_sends_nothing(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    order = samples["order_placed/repeat_order_maria.json"]
    table = stack.names["CustomersTable"]
    put_events(stack, [order])
    mappings.drain()
    counted = get_customer(table, "cus_frequent_maria")
    assert counted is not None and len(sent_emails(moto)) == 1
    # When, 45 days later, the same event is replayed from an archive (its original time)...
    clock.shift(timedelta(days=45))
    put_events(stack, [order])
    mappings.drain()
    # ...and the store re-sends the same order as a new event (a new envelope time)
    put_events(stack, [order.sent_at(utc_now())])
    mappings.drain()
    # Then neither sends a second email or counts the order again
    assert len(sent_emails(moto)) == 1
    after = get_customer(table, "cus_frequent_maria")
    assert after is not None and after.order_count == counted.order_count
    # And a new order replayed from an archive after the window is refused, with a clear reason
    stale = order.varied("an order from an old archive", order_id="ord_archived")
    put_events(stack, [stale])
    mappings.drain()
    refused = recorded_outcome(stack, stale)
    assert refused is not None and refused.reason is SkipReason.EVENT_TOO_OLD
    unchanged = get_customer(table, "cus_frequent_maria")
    assert unchanged is not None and unchanged.order_count == counted.order_count


def test_thirty_percent_throttling_loses_nothing_and_duplicates_nothing(
    moto: MotoEndpoint, clock: time_machine.Traveller
) -> None:
    row = throttling_run(moto, clock, rate=0.3, events=THROTTLED_EVENTS, window=timedelta(hours=1))
    table = "\n".join([header(), line(row), *row.notes])
    assert (row.duplicates, row.double_counts, row.in_dlq) == (0, 0, 0), table
    assert row.sent_once == row.events, table


def test_sixty_percent_throttling_duplicates_nothing_and_what_waits_stays_retryable(
    moto: MotoEndpoint, clock: time_machine.Traveller
) -> None:
    row = throttling_run(moto, clock, rate=0.6, events=THROTTLED_EVENTS, window=timedelta(hours=1))
    table = "\n".join([header(), line(row), *row.notes])
    assert (row.duplicates, row.double_counts, row.in_dlq) == (0, 0, 0), table
    # Once the throttling ends, everything that waited in the queue goes out, once: a claim an
    # invocation left unanswered (cut off at its timeout) is closed from SES's Send event or sent
    # again after the grace period. This holds however many invocations a slow machine cuts off.
    assert row.sent_once == row.events, table
    assert row.unconfirmed == 0, table


def test_a_crash_in_one_record_of_a_concurrent_batch_ends_the_whole_invocation_and_sends_each_once(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given three customers' carts in one batch (their records run at once, on threads), and the
    # process dies right after the first SES call: the other records die at their next call, as
    # every thread of a dead process does
    cart = samples["cart_abandoned/vip_ada.json"]
    carts = [cart.varied(f"cart_{n}", cart_id=f"cart_{n}") for n in range(3)]
    customers = ["cus_vip_ada", "cus_new_jonas", "cus_new_priya"]
    carts = [c.varied(c.name, customer_id=who) for c, who in zip(carts, customers, strict=True)]
    with crash_at(CrashPoint(service="sesv2", operation="SendEmail")):
        put_events(stack, carts)
        report = mappings.drain()
    assert report.died == 1
    # Then after the redelivery every cart has a final decision and no customer has two emails
    recipients = [str(email["To"]) for email in sent_emails(moto)]
    assert len(recipients) == len(set(recipients)) <= 3
    for sent in carts:
        outcome = recorded_outcome(stack, sent)
        assert outcome is not None and outcome.decision.is_final


def test_a_lost_answer_to_the_claim_is_recognised_as_our_own_claim_and_the_email_goes_out(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given DynamoDB stores the claim but its answer is lost, so the SDK sends the conditional
    # write again and gets back the claim it had just written as the item in the way
    cart = samples["cart_abandoned/vip_ada.json"]
    with losing_answers(LostAnswer(service="dynamodb", operation="PutItem")) as lost:
        put_events(stack, [cart])
        report = mappings.drain()
    assert lost[0].fired
    assert report.failed_records == 0 and report.waited_seconds == 0
    # Then the claim is recognised as ours by its token, and the email goes out at once, once
    assert len(sent_emails(moto)) == 1
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENT


def test_a_crash_after_the_claim_sends_once_after_the_grace_period(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given the function dies right after claiming the send, before SES was called
    cart = samples["cart_abandoned/vip_ada.json"]
    with crash_at(CrashPoint(service="dynamodb", operation="PutItem")):
        put_events(stack, [cart])
        report = mappings.drain()
    # Then the retry waited for SES's record of it until the grace period was over, found none,
    # and sent it under a new claim: once
    assert report.died == 1
    grace = int(stack.parameters["UnconfirmedSendGraceSeconds"])
    assert report.waited_seconds >= grace
    assert len(sent_emails(moto)) == 1
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENT


def test_with_give_up_a_crash_after_the_claim_is_closed_unconfirmed_and_never_sent(
    moto: MotoEndpoint, clock: time_machine.Traveller, samples: dict[str, SampleEvent]
) -> None:
    stack = fresh_stack(moto, UnconfirmedSends="give_up")
    mappings = EventSourceMappings(stack, clock)
    cart = samples["cart_abandoned/vip_ada.json"]
    with crash_at(CrashPoint(service="dynamodb", operation="PutItem")):
        put_events(stack, [cart])
        mappings.drain()
    assert sent_emails(moto) == []
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SEND_UNCONFIRMED


def test_too_little_time_left_before_ses_gives_the_claim_back_and_sends_once_later(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    # Given the profile write after the claim answers only after 22 s (of the function's 30), and
    # SES then takes 10 s to answer
    cart = samples["cart_abandoned/vip_ada.json"]
    profile_write = Stall(service="dynamodb", operation="UpdateItem", seconds=22, move_clock=clock.shift)
    slow_ses = Stall(service="sesv2", operation="SendEmail", seconds=10, move_clock=clock.shift)
    with stalling(profile_write, slow_ses):
        put_events(stack, [cart])
        report = mappings.drain()
    # Then SES was not called with too little time to record its answer: the claim and the slot
    # went back, the record came back, and the email went out once, with no claim left to close
    assert profile_write.fired and report.died == 0
    assert len(sent_emails(moto)) == 1
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENT


def test_a_lost_send_event_after_a_crash_is_the_one_way_to_a_duplicate(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    service_logs: io.StringIO,
) -> None:
    # Given the function dies right after SES accepted the email, and SES's Send event is lost
    cart = samples["cart_abandoned/vip_ada.json"]
    with crash_at(CrashPoint(service="sesv2", operation="SendEmail")), dropping(1.0):
        put_events(stack, [cart])
        mappings.drain(only=["CartAbandonedFunction"], max_wait_seconds=0)
    # When the grace period passes without it
    mappings.drain()
    # Then the email was sent again: the residual risk of UnconfirmedSends resend, which make faults
    # measures. Nothing in the account can see it (SES's record of the first email was lost).
    assert len(sent_emails(moto)) == 2
    assert "SES accepted a second email for one delivery" not in service_logs.getvalue()


@pytest.mark.parametrize(
    ("code", "status"),
    [("InternalFailure", 500), ("ServiceUnavailable", 503), ("BadGateway", 502), ("InternalFailure", 400)],
)
def test_an_ses_server_error_keeps_the_claim_and_the_email_goes_out_once(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    code: str,
    status: int,
) -> None:
    # Given SES answers Ada's send with a server error: it may have carried the request out
    cart = samples["cart_abandoned/vip_ada.json"]
    with refusing(Refusal(service="sesv2", operation="SendEmail", code=code, status=status)) as (refusal,):
        put_events(stack, [cart])
        report = DrainReport()
        mappings.poll_once(report)
    assert refusal.fired and report.failed_records == 1
    # Then the claim stays: the send is not taken back as if SES had refused it
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENDING
    # And the retry, finding no record of it at SES once the grace period is over, sends it once
    report = mappings.drain()
    assert report.waited_seconds >= int(stack.parameters["UnconfirmedSendGraceSeconds"])
    assert len(sent_emails(moto)) == 1
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENT


def test_ses_s_send_event_records_its_acceptance_and_message_id_on_the_delivery(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given the function dies right after SES accepted Ada's reminder, before recording the answer
    cart = samples["cart_abandoned/vip_ada.json"]
    with crash_at(CrashPoint(service="sesv2", operation="SendEmail")):
        put_events(stack, [cart])
        mappings.drain(only=["CartAbandonedFunction"], max_wait_seconds=0)
    # When SES's Send event reaches the engagement function
    mappings.drain(only=["EngagementFunction"])
    # Then the claimed record holds when SES accepted it and SES's message id
    (message_id,) = moto.sent_raw_emails()
    record = get_record(stack.names["DeliveriesTable"], "cus_vip_ada", "cart_abandoned", "cart_7f3a")
    assert record is not None and record["decision"] == "sending"
    assert record["ses_accepted_at"] and record["message_id"] == message_id
