"""Segments and experiments are read once a minute per warm function, not once an email: a marketer's
change reaches the emails within SEGMENT_CACHE_SECONDS / EXPERIMENT_CACHE_SECONDS, and meanwhile the
send path makes two calls fewer. On a cold function the threads of a batch that need the same secret
or row wait for one read of it instead of each making their own."""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine

from local_stack.emulator.failures import recording_calls, recording_requests
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import delete_segment, put_segment, put_segment_row
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.seed import put_shopper
from local_stack.emulator.stack import LocalStack
from nudge import ttl_cache
from nudge.adapters import clients as layer_clients
from nudge.dal.customers import get_customer
from nudge.dal.segments import SEGMENT_CACHE_SECONDS, get_segment
from nudge.profiles import Segment
from nudge.unsubscribe.keys import KEY_CACHE_SECONDS, signing_key
from tests.conftest import sent_emails

THREADS = 10
HANG_SECONDS = 10  # only a guard against a hang


def test_a_changed_offer_reaches_the_emails_within_a_minute_and_is_read_once_meanwhile(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, FrequencyCapEmails="0")
    mappings = EventSourceMappings(stack, clock)
    lapse = samples["customer_lapsed/at_risk_sam.json"]

    def winback(run_id: str) -> str:
        put_events(stack, [lapse.varied(run_id, run_id=run_id)])
        mappings.drain()
        return str(sent_emails(moto)[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]

    with recording_calls() as cold:
        assert "COMEBACK20" in winback("2026-11-23")
    # Given marketing changes the at-risk coupon
    table = stack.names["SegmentsTable"]
    at_risk = get_segment(table, "at_risk")
    put_segment(table, at_risk.model_copy(update={"coupon_code": "COMEBACK25"}))
    # Then an email within the minute still reads the cached row, without a Segments read
    with recording_calls() as warm:
        assert "COMEBACK20" in winback("2026-11-24")
    # The Segments GetItem and the Experiments Scan of the first email are not made again
    assert warm.count(("dynamodb", "GetItem")) == cold.count(("dynamodb", "GetItem")) - 1
    assert ("dynamodb", "Scan") in cold and ("dynamodb", "Scan") not in warm
    # ...and once the minute has passed, the new coupon
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    assert "COMEBACK25" in winback("2026-11-25")


def test_a_cold_batch_of_ten_cart_emails_reads_the_secret_once_and_each_recommendation_row_once(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given a catalog, and ten shoppers who left the same cart
    put_events(stack, [s for s in samples.values() if s.is_product and not s.is_invalid])
    mappings.drain()
    cart = samples["cart_abandoned/vip_ada.json"]
    carts = [
        cart.varied(customer_id, customer_id=customer_id, cart_id=f"cart_{customer_id}")
        for customer_id in (put_shopper(stack, f"cus_cold_{number}") for number in range(10))
    ]
    # When their records arrive in one batch on a cold function (no client, nothing cached)
    layer_clients.forget()
    ttl_cache.forget_all()
    with recording_calls() as calls:
        put_events(stack, carts)
        report = mappings.drain(only=["CartAbandonedFunction"])
    # Then ten emails, and every record that needed the secret or a row waited for one read of it
    assert (report.invocations, report.records, len(sent_emails(moto))) == (1, 10, 10)
    counted = Counter(operation for _, operation in calls)
    assert counted["GetSecretValue"] == 1
    # each record's profile with its send state, and the recommendation model's rows and the
    # catalog's, once for the same cart
    assert counted["BatchGetItem"] == 10 + 2


def test_threads_reading_the_secret_on_a_cold_function_make_one_call(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cold function: no client, no cached value
    secret_id = stack.functions["CartAbandonedFunction"].environment["UNSUBSCRIBE_KEY_SECRET"]
    layer_clients.forget()
    asked_for_client: set[int] = set()
    came = threading.Condition()
    client_of = layer_clients.secretsmanager

    def secretsmanager() -> Any:
        with came:
            asked_for_client.add(threading.get_ident())
            came.notify_all()
        return client_of()

    monkeypatch.setattr(layer_clients, "secretsmanager", secretsmanager)
    calls: list[int] = []

    def first_call_waits(**_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            # ...until every thread is past the point where it could still find the value cached
            with came:
                assert came.wait_for(lambda: len(asked_for_client) == THREADS, HANG_SECONDS)

    hook = "before-call.secrets-manager.GetSecretValue"
    layer_clients.session().events.register(hook, first_call_waits)
    try:
        # When ten records' threads read it at once
        start = threading.Barrier(THREADS)
        keys: list[bytes] = []

        def read() -> None:
            start.wait()
            keys.append(signing_key(secret_id))

        threads = [threading.Thread(target=read) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_SECONDS)
    finally:
        layer_clients.session().events.unregister(hook, first_call_waits)
    # Then one GetSecretValue, and every thread has the key
    assert len(calls) == 1
    assert len(keys) == THREADS and len(set(keys)) == 1


def test_a_rotated_signing_key_reaches_a_warm_function_within_five_minutes(
    stack: LocalStack, clock: time_machine.Traveller
) -> None:
    secret_id = stack.functions["CartAbandonedFunction"].environment["UNSUBSCRIBE_KEY_SECRET"]
    secrets = layer_clients.secretsmanager()
    first = signing_key(secret_id)
    # Given the key is rotated
    rotated = "r" * 40
    secrets.put_secret_value(SecretId=secret_id, SecretString=rotated)
    # Then a warm function keeps the key it read for five minutes, without reading it again
    with counting_secret_reads(secrets) as reads:
        assert signing_key(secret_id) == first
        clock.shift(KEY_CACHE_SECONDS - 1)
        assert signing_key(secret_id) == first
        assert reads == []
        # ...and reads the new one once they have passed
        clock.shift(2)
        assert signing_key(secret_id) == rotated.encode()
        assert len(reads) == 1


def test_a_failed_secret_read_is_not_cached(stack: LocalStack) -> None:
    secret_id = stack.functions["CartAbandonedFunction"].environment["UNSUBSCRIBE_KEY_SECRET"]
    layer_clients.forget()
    secrets = layer_clients.secretsmanager()

    def unavailable(**_: Any) -> None:
        raise secrets.exceptions.InternalServiceError(
            {"Error": {"Code": "InternalServiceError", "Message": "try again"}}, "GetSecretValue"
        )

    hook = "before-call.secrets-manager.GetSecretValue"
    secrets.meta.events.register(hook, unavailable)
    try:
        with pytest.raises(secrets.exceptions.InternalServiceError):
            signing_key(secret_id)
    finally:
        secrets.meta.events.unregister(hook, unavailable)
    # The next read calls again, and gets the key
    with counting_secret_reads(secrets) as reads:
        assert len(signing_key(secret_id)) >= 32
    assert len(reads) == 1


@contextmanager
def counting_secret_reads(secrets: Any) -> Iterator[list[str]]:
    """The secrets one client reads (GetSecretValue), as it reads them."""
    reads: list[str] = []

    def counted(params: dict[str, Any], **_: Any) -> None:
        reads.append(params["SecretId"])

    hook = "before-parameter-build.secrets-manager.GetSecretValue"
    secrets.meta.events.register(hook, counted)
    try:
        yield reads
    finally:
        secrets.meta.events.unregister(hook, counted)


def segments_scans(requests: list[tuple[str, str, dict[str, Any]]], table: str) -> int:
    return sum(1 for _, operation, params in requests if operation == "Scan" and params["TableName"] == table)


def ordering_as_priya(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> Callable[[str], str | None]:
    """Places an order of Priya's (a new customer) through the warm Order Placed function; returns
    her segment after it."""
    priya = samples["order_placed/first_order_priya.json"]

    def order(order_id: str) -> str | None:
        put_events(stack, [priya.varied(order_id, order_id=order_id)])
        mappings.drain(only=["OrderPlacedFunction"])  # the other functions' queues would move the clock
        customer = get_customer(stack.names["CustomersTable"], "cus_new_priya")
        assert customer is not None
        return customer.segment_id

    return order


def test_orders_on_a_warm_function_read_the_segment_definitions_once_a_minute(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    table = stack.names["SegmentsTable"]
    order = ordering_as_priya(stack, mappings, samples)

    # Given two orders on a warm function: the definitions are read (scanned) once
    with recording_requests() as requests:
        assert order("ord_1") == "new_customer"
        assert order("ord_2") == "default"  # two orders: no longer new, nothing else yet
    assert segments_scans(requests, table) == 1
    # When marketing adds a segment she is in
    put_segment(
        table,
        Segment.model_validate(
            {
                "segment_id": "big_spender",
                "name": "Big spender",
                "priority": 1,
                "rules": {"total_spent": {"gte": 1000}},
            }
        ),
    )
    # Then an order within the minute still goes by the definitions read (her third order this year)
    with recording_requests() as requests:
        assert order("ord_3") == "frequent_buyer"
    assert segments_scans(requests, table) == 0
    # ...and once the minute has passed, by the table's
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    assert order("ord_4") == "big_spender"


def test_invalid_definitions_pause_resegmentation_for_the_minute_and_a_fix_applies_within_it(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
    service_logs: io.StringIO,
) -> None:
    table = stack.names["SegmentsTable"]
    order = ordering_as_priya(stack, mappings, samples)

    # Given a marketer's typo in one row's rules
    put_segment_row(table, {"segment_id": "big_spenders", "rules": {"total_spend": {"gte": 500}}})
    # When orders come: re-segmentation is paused (her second order would make her `default`), each
    # time logged, with one Scan for the minute
    with recording_requests() as requests:
        assert order("ord_1") == "new_customer"
        assert order("ord_2") == "new_customer"
    assert segments_scans(requests, table) == 1
    assert service_logs.getvalue().count("segmentation paused") == 2
    # Then the fix, like any change to the table, applies within the minute
    delete_segment(table, "big_spenders")
    assert order("ord_3") == "new_customer"
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    assert order("ord_4") == "frequent_buyer"
